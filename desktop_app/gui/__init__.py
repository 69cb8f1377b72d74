"""The Qt window: panels, thin table models, the monitor and the consumer process."""
