"""Access: accounts, roles, sessions, the jurisdiction tree (辖区) and masking (脱敏)."""
