//! Creating a content repository from a folder of posts (`palimpsest init`, and the sample
//! blog on first start), replaying the folder's `history.yaml` so that earlier revisions of
//! the posts become real commits.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use git2::{ObjectType, Oid, Repository, RepositoryInitOptions, Time};
use serde::Deserialize;

use super::{Change, CommitRequest, Identity, Store, StoreError};

/// The folders of a content directory that become part of the repository.
const CONTENT_FOLDERS: [&str; 2] = ["posts", "assets"];

/// `history.yaml`: the commits to replay, oldest first.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct History {
    commits: Vec<HistoryCommit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryCommit {
    date: String,
    author: String,
    message: String,
    /// Repository path to the file (relative to the folder) holding its content, or null to
    /// delete the path.
    files: BTreeMap<String, Option<String>>,
}

/// What seeding produced.
#[derive(Debug, Clone)]
pub struct SeedReport {
    pub commits: usize,
    pub tip: Oid,
}

/// Creates a bare repository at `repo_path` whose `branch` holds the posts and assets of
/// `from`, with the history described by `from/history.yaml` when there is one.
///
/// # Errors
/// `Seed` when the repository already has the branch, or the folder or its history is
/// inconsistent; git and I/O errors otherwise.
pub fn seed_repository(
    repo_path: &Path,
    from: &Path,
    branch: &str,
    importer: &Identity,
) -> Result<SeedReport, StoreError> {
    super::configure_libgit2();
    let repo = match Repository::open(repo_path) {
        Ok(repo) => repo,
        Err(_) => {
            let mut options = RepositoryInitOptions::new();
            options.bare(true).initial_head(branch).mkpath(true);
            Repository::init_opts(repo_path, &options)?
        }
    };
    let store = Store {
        path: repo_path.to_path_buf(),
        branch: branch.to_string(),
        durability: Default::default(),
        journal: Default::default(),
    };
    if store.tip_in(&repo)?.is_some() {
        return Err(StoreError::Seed(format!(
            "{} already has a branch `{branch}`",
            repo_path.display()
        )));
    }

    let mut tip = None;
    let mut commits = 0;
    let history_file = from.join("history.yaml");
    if history_file.exists() {
        let history: History = yaml_serde::from_str(&read_text(&history_file)?)
            .map_err(|e| StoreError::Seed(format!("{}: {e}", history_file.display())))?;
        for entry in &history.commits {
            let request = replayed_commit(from, entry)?;
            tip = Some(commit_and_advance(&store, &repo, tip, &request)?);
            commits += 1;
        }
    }

    let changes = changes_to_match_folder(&repo, tip, from)?;
    if !changes.is_empty() || tip.is_none() {
        let request = CommitRequest {
            author: importer.clone(),
            committer: importer.clone(),
            message: format!("Import posts from {}", from.display()),
            time: None,
            changes,
        };
        tip = Some(commit_and_advance(&store, &repo, tip, &request)?);
        commits += 1;
    }
    let tip = tip.expect("at least one commit was written");
    Ok(SeedReport { commits, tip })
}

fn commit_and_advance(
    store: &Store,
    repo: &Repository,
    parent: Option<Oid>,
    request: &CommitRequest,
) -> Result<Oid, StoreError> {
    let commit = store.write_commit(repo, parent, request)?;
    store.move_branch(repo, commit, parent, &format!("seed: {}", request.message))?;
    Ok(commit)
}

fn replayed_commit(from: &Path, entry: &HistoryCommit) -> Result<CommitRequest, StoreError> {
    let bad = |what: String| StoreError::Seed(format!("history.yaml, `{}`: {what}", entry.message));
    let author = Identity::parse(&entry.author).map_err(bad)?;
    let date = chrono::DateTime::parse_from_rfc3339(&entry.date)
        .map_err(|e| bad(format!("date `{}`: {e}", entry.date)))?;
    let time = Time::new(date.timestamp(), date.offset().local_minus_utc() / 60);
    let mut changes = Vec::new();
    for (path, source) in &entry.files {
        if !is_plain_relative(path) {
            return Err(bad(format!("`{path}` is not a plain relative path")));
        }
        let change = match source {
            None => Change::Delete { path: path.clone() },
            Some(source) if is_plain_relative(source) => Change::Upsert {
                path: path.clone(),
                content: read_bytes(&from.join(source))?,
            },
            Some(source) => return Err(bad(format!("`{source}` is not a plain relative path"))),
        };
        changes.push(change);
    }
    Ok(CommitRequest {
        author: author.clone(),
        committer: author,
        message: entry.message.clone(),
        time: Some(time),
        changes,
    })
}

/// The changes that make the tree of `tip` hold exactly the folder's posts and assets.
fn changes_to_match_folder(
    repo: &Repository,
    tip: Option<Oid>,
    from: &Path,
) -> Result<Vec<Change>, StoreError> {
    let mut wanted = BTreeMap::new();
    for folder in CONTENT_FOLDERS {
        collect_files(&from.join(folder), folder, &mut wanted)?;
    }
    let mut present = BTreeMap::new();
    if let Some(tip) = tip {
        let tree = repo.find_commit(tip)?.tree()?;
        tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
            if entry.kind() == Some(ObjectType::Blob) {
                let path = format!("{dir}{}", entry.name().unwrap_or_default());
                present.insert(path, entry.id());
            }
            git2::TreeWalkResult::Ok
        })?;
    }
    let mut changes = Vec::new();
    for (path, content) in wanted.iter() {
        let id = Oid::hash_object(ObjectType::Blob, content)?;
        if present.get(path) != Some(&id) {
            changes.push(Change::Upsert {
                path: path.clone(),
                content: content.clone(),
            });
        }
    }
    let in_content_folder = |path: &str| {
        CONTENT_FOLDERS
            .iter()
            .any(|folder| path.starts_with(&format!("{folder}/")))
    };
    for path in present.keys() {
        if in_content_folder(path) && !wanted.contains_key(path) {
            changes.push(Change::Delete { path: path.clone() });
        }
    }
    Ok(changes)
}

fn collect_files(
    dir: &Path,
    prefix: &str,
    out: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), StoreError> {
    if !dir.is_dir() {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| StoreError::Io {
        context: format!("reading {}", dir.display()),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| StoreError::Io {
            context: format!("reading {}", dir.display()),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, &format!("{prefix}/{name}"), out)?;
        } else if path.is_file() {
            out.insert(format!("{prefix}/{name}"), read_bytes(&path)?);
        }
    }
    Ok(())
}

fn is_plain_relative(path: &str) -> bool {
    let path = Path::new(path);
    !path.as_os_str().is_empty() && path.components().all(|c| matches!(c, Component::Normal(_)))
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|source| StoreError::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, StoreError> {
    String::from_utf8(read_bytes(path)?)
        .map_err(|_| StoreError::Seed(format!("{} is not UTF-8", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn importer() -> Identity {
        Identity::parse("Importer <importer@example.org>").unwrap()
    }

    #[test]
    fn a_folder_without_history_becomes_one_commit() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(folder.path().join("posts")).unwrap();
        std::fs::write(folder.path().join("posts/a.md"), "---\ntitle: A\n---\n").unwrap();
        let repo = tempfile::tempdir().unwrap();
        let report = seed_repository(
            &repo.path().join("c.git"),
            folder.path(),
            "main",
            &importer(),
        )
        .unwrap();
        assert_eq!(report.commits, 1);
        let store = Store::open(&repo.path().join("c.git"), "main").unwrap();
        let reader = store.history_reader().unwrap();
        assert_eq!(reader.post_files(report.tip).unwrap().len(), 1);
    }

    #[test]
    fn history_is_replayed_in_order_and_ends_at_the_folder() {
        let folder = tempfile::tempdir().unwrap();
        let root = folder.path();
        std::fs::create_dir_all(root.join("posts")).unwrap();
        std::fs::create_dir_all(root.join("history")).unwrap();
        std::fs::write(root.join("history/a1.md"), "---\ntitle: A\n---\nv1\n").unwrap();
        std::fs::write(root.join("posts/a.md"), "---\ntitle: A\n---\nv2\n").unwrap();
        std::fs::write(
            root.join("history.yaml"),
            "commits:\n  - date: \"2026-09-01T10:00:00Z\"\n    author: \"A <a@x.org>\"\n    message: first\n    files:\n      posts/a.md: history/a1.md\n  - date: \"2026-09-02T10:00:00Z\"\n    author: \"A <a@x.org>\"\n    message: second\n    files:\n      posts/a.md: posts/a.md\n",
        )
        .unwrap();
        let repo_dir = tempfile::tempdir().unwrap();
        let path = repo_dir.path().join("c.git");
        let report = seed_repository(&path, root, "main", &importer()).unwrap();
        assert_eq!(
            report.commits, 2,
            "history ends at the folder: no import commit"
        );
        let repo = Repository::open(&path).unwrap();
        let tip = repo.find_commit(report.tip).unwrap();
        assert_eq!(tip.message().ok(), Some("second"));
        assert_eq!(tip.author().name().ok(), Some("A"));
        assert_eq!(tip.time().seconds(), 1_788_343_200);
    }

    #[test]
    fn history_paths_must_stay_inside_the_folder() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(
            folder.path().join("history.yaml"),
            "commits:\n  - date: \"2026-09-01T10:00:00Z\"\n    author: \"A <a@x.org>\"\n    message: m\n    files:\n      posts/a.md: ../../etc/passwd\n",
        )
        .unwrap();
        let repo_dir = tempfile::tempdir().unwrap();
        let result = seed_repository(
            &repo_dir.path().join("c.git"),
            folder.path(),
            "main",
            &importer(),
        );
        assert!(matches!(result, Err(StoreError::Seed(_))));
    }
}
