//! Values a fuzz target sealed itself. libFuzzer's comparison tracing can feed
//! them back as input: those, and only those, may open.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};

fn sealed_here() -> &'static Mutex<HashSet<String>> {
    static SEALED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    SEALED.get_or_init(|| Mutex::new(HashSet::new()))
}

pub fn remember(value: &str) {
    if let Ok(mut set) = sealed_here().lock() {
        set.insert(value.to_string());
    }
}

pub fn was_sealed_here(value: &str) -> bool {
    sealed_here()
        .lock()
        .map(|set| set.contains(value))
        .unwrap_or(false)
}
