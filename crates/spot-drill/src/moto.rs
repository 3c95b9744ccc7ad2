//! The drill's moto: the project's shared harness (`facerec-moto-server`), which runs
//! `tools/moto/launch.py` (moto plus the patches our code relies on) on a free loopback
//! port and kills it on drop.

pub use facerec_moto_server::{default_python, repo_root, MotoServer, MotoStartError};
