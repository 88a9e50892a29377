"""Adapters for the phone clients people already run: Traccar Client (OsmAnd protocol) and OwnTracks.
Each turns its protocol into the same validated batch the native signed API takes, per device, off by default."""
