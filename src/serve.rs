//! Placeholder: replaced by the serve implementation.
