//! coros-kernel
