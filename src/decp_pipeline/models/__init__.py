"""The domain model: the official schemas as typed structures, and the contract with its facts (contract.py)."""
