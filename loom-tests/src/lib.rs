//! Empty outside `--cfg spam_loom`: the models live in `tests/` and only compile under it.
