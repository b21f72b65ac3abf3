//! HorizontalPodAutoscaler decision logic (autoscaling/v2). Under construction.
