//! Container images on a node before any pod asks for them.

/// True for images every node already holds: the pod sandbox ("pause") image, which the
/// container runtime pulls when it sets up the node's first sandbox (EKS AMIs and kind node
/// images ship it preloaded). *Assumption*: any image whose reference contains `pause`.
/// Both kubelets (the twin's and `--cluster`'s) use it, so neither emits `Pulling` for it.
pub fn preloaded(image: &str) -> bool {
    image.contains("pause")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sandbox_image_is_preloaded() {
        assert!(super::preloaded("registry.k8s.io/pause:3.9"));
        assert!(!super::preloaded("nginx:1.27"));
    }
}
