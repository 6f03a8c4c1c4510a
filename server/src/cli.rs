//! Provisioning CLI (to be written)
