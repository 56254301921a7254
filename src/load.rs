//! Reading specs and word files from disk.

use std::path::Path;

use crate::{Error, Spec, SpecFile, WordList};

/// Reads a TOML spec file; word files it names are read relative to it.
///
/// Errors name the file, and the line and column for syntax errors.
pub fn spec_file(path: &Path) -> Result<Spec, Error> {
    let shown = path.display().to_string();
    let text = read(path)?;
    let file = SpecFile::from_toml(&text, &shown)?;
    let base = path.parent().unwrap_or(Path::new(""));
    file.resolve(base, |p| {
        std::fs::read_to_string(p).map_err(|e| e.to_string())
    })
}

/// Reads a word file: one word per line, `#` starts a comment.
pub fn word_file(path: &Path) -> Result<WordList, Error> {
    let text = read(path)?;
    Ok(WordList::parse(&text, &path.display().to_string()))
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::read(&path.display().to_string(), e))
}
