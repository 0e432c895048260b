//! coros
