//! 1NCE Management API client (work in progress).
