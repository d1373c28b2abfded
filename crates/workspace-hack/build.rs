//! Empty: present so that the `[build-dependencies]` features take part in the build.
fn main() {}
