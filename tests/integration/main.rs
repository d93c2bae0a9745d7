//! One integration target, split into modules by subject.
