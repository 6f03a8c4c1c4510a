//! vox-messenger SDK (skeleton; see issue 4).
