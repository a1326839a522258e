"""The Paper Digest daemon: APScheduler jobs that fetch, publish and deliver on time.

This package imports ``digest``; ``digest`` never imports it.
"""
