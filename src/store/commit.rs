//! Writing commits straight into the object database, without a working tree or an index,
//! and moving the branch with a compare-and-swap.

use git2::build::TreeUpdateBuilder;
use git2::{ErrorCode, FileMode, Oid, Repository, Signature, Time};

use super::{Store, StoreError};

/// A person as git records them: `Name <email>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub name: String,
    pub email: String,
}

impl Identity {
    /// Parses `Name <email>`.
    ///
    /// # Errors
    /// A message saying what is missing, for configuration errors.
    pub fn parse(text: &str) -> Result<Identity, String> {
        let text = text.trim();
        let (name, rest) = text
            .split_once('<')
            .ok_or_else(|| format!("`{text}` is not of the form `Name <email>`"))?;
        let email = rest
            .strip_suffix('>')
            .ok_or_else(|| format!("`{text}` is not of the form `Name <email>`"))?;
        let (name, email) = (name.trim(), email.trim());
        if name.is_empty() || email.is_empty() || email.contains(['<', '>']) {
            return Err(format!("`{text}` is not of the form `Name <email>`"));
        }
        Ok(Identity {
            name: name.to_string(),
            email: email.to_string(),
        })
    }

    fn signature(&self, time: Option<Time>) -> Result<Signature<'static>, git2::Error> {
        match time {
            Some(time) => Signature::new(&self.name, &self.email, &time),
            None => Signature::now(&self.name, &self.email),
        }
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// One file changed by a commit.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert { path: String, content: Vec<u8> },
    Delete { path: String },
}

/// What a commit says: who, why, and when (`None`: now).
#[derive(Debug, Clone)]
pub struct CommitRequest {
    pub author: Identity,
    pub committer: Identity,
    pub message: String,
    pub time: Option<Time>,
    pub changes: Vec<Change>,
}

/// Writing commits and moving the branch.
impl Store {
    /// Writes a commit on top of `parent` into the object database; no reference moves.
    ///
    /// Only the trees on the changed paths are rewritten (`TreeUpdateBuilder`), so the cost
    /// does not grow with the number of posts.
    ///
    /// # Errors
    /// Git errors writing blobs, trees or the commit.
    pub fn write_commit(
        &self,
        repo: &Repository,
        parent: Option<Oid>,
        request: &CommitRequest,
    ) -> Result<Oid, StoreError> {
        let parent = parent.map(|oid| repo.find_commit(oid)).transpose()?;
        let base_tree = match &parent {
            Some(commit) => commit.tree()?,
            None => repo.find_tree(repo.treebuilder(None)?.write()?)?,
        };
        let mut update = TreeUpdateBuilder::new();
        for change in &request.changes {
            match change {
                Change::Upsert { path, content } => {
                    update.upsert(path.as_str(), repo.blob(content)?, FileMode::Blob);
                }
                Change::Delete { path } => {
                    update.remove(path.as_str());
                }
            }
        }
        let tree = repo.find_tree(update.create_updated(repo, &base_tree)?)?;
        let author = request.author.signature(request.time)?;
        let committer = request.committer.signature(request.time)?;
        let parents: Vec<&git2::Commit> = parent.iter().collect();
        Ok(repo.commit(None, &author, &committer, &request.message, &tree, &parents)?)
    }

    /// Moves the served branch from `expected` to `new`: a compare-and-swap, made durable.
    ///
    /// The only way this crate publishes commits, so it carries the durability order (see
    /// `durability`): flush the objects written so far, move the ref (libgit2 writes
    /// `<branch>.lock` and renames it into place), flush again; only then return. A crash
    /// before the first flush completes leaves the branch where it was; one after it leaves
    /// unreferenced objects at worst, never a branch naming a missing object.
    ///
    /// # Errors
    /// `BranchMoved` if the branch no longer points at `expected` (another writer or a
    /// `git push` got there first); `BranchLocked` while another process (or a crashed one)
    /// holds `<branch>.lock`; `Io` when a flush fails (the branch may then have moved, but the
    /// write must not be acknowledged); other git errors.
    pub fn move_branch(
        &self,
        repo: &Repository,
        new: Oid,
        expected: Option<Oid>,
        log_message: &str,
    ) -> Result<(), StoreError> {
        let git_dir = repo.commondir();
        self.durability
            .flush(&git_dir.join("objects"), "making the new objects durable")?;
        let name = self.branch_ref();
        let result = match expected {
            Some(old) => repo.reference_matching(&name, new, true, old, log_message),
            None => repo.reference(&name, new, false, log_message),
        };
        match result {
            Ok(_) => self
                .durability
                .flush(&git_dir.join("refs"), "making the branch move durable"),
            Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Exists) => {
                Err(StoreError::BranchMoved { expected })
            }
            Err(e) if e.code() == ErrorCode::Locked => {
                Err(StoreError::BranchLocked(self.branch_lock_path(repo)))
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_is_parsed_from_name_and_email() {
        let who = Identity::parse("Mira Okafor <mira@example.org>").unwrap();
        assert_eq!(who.name, "Mira Okafor");
        assert_eq!(who.email, "mira@example.org");
        assert_eq!(who.to_string(), "Mira Okafor <mira@example.org>");
    }

    #[test]
    fn an_identity_without_an_email_is_rejected() {
        for bad in ["Mira", "Mira <>", "<mira@example.org>", "Mira <a<b>"] {
            assert!(Identity::parse(bad).is_err(), "{bad}");
        }
    }
}
