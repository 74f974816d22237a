"""Platform core: settings, database, errors, clock, work calendar. Imports no domain package."""
