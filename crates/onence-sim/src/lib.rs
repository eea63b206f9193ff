//! 1NCE Management API simulator (work in progress).
