"""Shipped checkpoints (data only); see each folder's card.json."""
