"""drop user.session_epoch

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Written, never read: sessions and tokens are ended by deleting their rows (logout,
deactivation, a new password), which takes effect on every worker at once.
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ALTER TABLE on both databases (SQLite has it since 3.35): Alembic's batch mode
    # would rebuild the SQLite table from reflection and lose its AUTOINCREMENT (0002).
    op.execute('ALTER TABLE "user" DROP COLUMN session_epoch')


def downgrade():
    op.add_column('user', sa.Column('session_epoch', sa.Integer(), nullable=False, server_default='0'))
