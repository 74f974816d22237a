"""People (实有人口): the first personal-data record type. The registry (一标三实) grows it."""
