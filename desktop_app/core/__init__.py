"""The Qt-free core: load a Huey target, dispatch, inspect, journal, consume."""
