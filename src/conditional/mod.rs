//! The conditional/range evaluator (pure).
