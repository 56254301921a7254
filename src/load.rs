//! Reading specs and word files from disk.

use std::fs::File;
use std::io::BufReader;
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
    file.resolve_with(base, |p, source| {
        stream(p, source).map_err(|e| e.to_string())
    })
}

/// Reads a word file: one word per line, `#` starts a comment.
///
/// The file is read line by line: only its words are held, never its
/// whole text beside them.
pub fn word_file(path: &Path) -> Result<WordList, Error> {
    let shown = path.display().to_string();
    stream(path, &shown).map_err(|e| Error::read(&shown, e))
}

fn stream(path: &Path, source: &str) -> std::io::Result<WordList> {
    let file = File::open(path)?;
    // The words and their separators take at most the file's size (and
    // one byte more when the last line has no newline): one buffer,
    // allocated once.
    let size = file.metadata().map_or(0, |m| m.len());
    WordList::read_with_capacity(
        BufReader::with_capacity(1 << 16, &file),
        source,
        usize::try_from(size).map_or(0, |size| size + 1),
    )
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::read(&path.display().to_string(), e))
}
