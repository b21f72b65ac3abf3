//! kubectl for the kscale twin. Under construction.
