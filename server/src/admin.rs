//! Admin HTTP API (to be written)
