// Small helpers for the admin pages: confirmation before destructive forms, and document
// selection on the assignment page. No inline handlers (the CSP forbids them).

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

const picks = [...document.querySelectorAll("input.pick")];
const selectPage = document.getElementById("select-page");
const count = document.getElementById("selection-count");
const selectionRadio = document.querySelector('input[name="scope"][value="selection"]');

function updateCount() {
  const n = picks.filter((box) => box.checked).length;
  if (count) count.textContent = n ? `(${n} ticked on this page)` : "";
  if (selectPage) {
    selectPage.checked = n > 0 && n === picks.length;
    selectPage.indeterminate = n > 0 && n < picks.length;
  }
}

for (const box of picks) {
  box.addEventListener("change", () => {
    if (box.checked && selectionRadio) selectionRadio.checked = true;
    updateCount();
  });
}
if (selectPage) {
  selectPage.addEventListener("change", () => {
    for (const box of picks) box.checked = selectPage.checked;
    if (selectPage.checked && selectionRadio) selectionRadio.checked = true;
    updateCount();
  });
}
updateCount();
