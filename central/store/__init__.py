"""The collector's database in both dialects (SQLite, PostgreSQL): events once by id,
each station's contiguous seq and presence, quarantine, paper cards, and what labs
send back. Imports only the contract and the sites' facts."""
