//! Links the embedded speech recognizer for QA: PocketSphinx and
//! SphinxBase from the system (Debian's `libpocketsphinx-dev` and
//! `libsphinxbase-dev`), found with pkg-config.

fn main() {
    for lib in ["pocketsphinx", "sphinxbase"] {
        if let Err(e) = pkg_config::Config::new().probe(lib) {
            panic!(
                "{lib} not found by pkg-config ({e}); install the Debian packages \
                 libpocketsphinx-dev and libsphinxbase-dev (scripts/install-deps.sh does)"
            );
        }
    }
}
