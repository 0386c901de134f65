"""The lane's pure core: (state, event, now) -> (state, effects) and all it decides."""
