//! Every token as the lists show it, in memory, kept in list order, so a
//! page of the Authorization list or of `GET /api/v2/tokens` costs no
//! database query and no scan, however many tokens there are.
//!
//! - Tokens are kept in sorted lists of handles, one per way the lists can
//!   be narrowed (all; by kind, role, kind and role; each member's personal
//!   tokens, by role too). A page is a slice of one list, or of the union of
//!   two (a member's own tokens and the organization's), found by binary
//!   search: the last page costs what the first does. Counts are lengths.
//! - Names are indexed by every 1, 2 and 3 character substring (of the
//!   lowercased name), each posting list in list order: a search of up to
//!   three characters is one posting list, a longer one walks the rarest of
//!   its trigrams and checks each candidate. Results are exactly those of a
//!   case-insensitive substring match (both sides lowercased the same way).
//!
//! Like the credential index, this is a cache that is re-read, never written
//! from what a caller believes: `Store::refresh` puts a token's row as the
//! database holds it, and a reload replaces everything.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::RwLock;

use super::Token;
use crate::domain::MemberRole;
use crate::domain::listing::{Sort, SortFields, SortKey, TimeFilter};
use crate::domain::policy::TokenScope;
use crate::domain::token::{TokenKind, TokenRole};

/// A token's row without its member's details (those live with the member,
/// so a role change touches one entry, not every token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub role: TokenRole,
    pub kind: TokenKind,
    pub member_id: String,
    pub api_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub last_four: String,
    pub version: i64,
    pub suspended_at: Option<i64>,
    /// The latest end of a replaced secret's grace period (from the
    /// token's secrets).
    pub old_secret_until: Option<i64>,
    pub old_secret_last_used_at: Option<i64>,
}

/// A member as token rows show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MemberRecord {
    pub email: String,
    pub role: MemberRole,
    pub created_at: i64,
}

/// Up to three characters, padded with NUL (which no name holds).
type Gram = [char; 3];

fn gram(chars: &[char]) -> Gram {
    let mut g = ['\0'; 3];
    g[..chars.len()].copy_from_slice(chars);
    g
}

/// Every distinct 1-, 2- and 3-character substring of `text`.
fn grams_of(text: &str) -> Vec<Gram> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(chars.len() * 3);
    for n in 1..=3 {
        for window in chars.windows(n) {
            out.push(gram(window));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether `needle` occurs in `haystack`. Names are short (a few dozen
/// bytes): a plain scan for the first byte beats a general searcher's
/// set-up, which it would pay again for every candidate of a search
/// (memmem's took 11% of a search's time, memchr's SIMD scan 9%).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, _)) = needle.split_first() else {
        return true;
    };
    let Some(last_start) = haystack.len().checked_sub(needle.len()) else {
        return false;
    };
    (0..=last_start).any(|at| haystack[at] == first && &haystack[at..at + needle.len()] == needle)
}

struct Entry {
    token: TokenRecord,
    /// The lowercased name: what lists sort by and searches match.
    /// (Its n-grams are not kept: recomputed from it on the rare removal,
    /// they would otherwise be the catalog's largest part.)
    folded: String,
    /// `token.member_id`, as a number that compares in one instruction
    /// (a search checks it for every candidate).
    member: u32,
}

impl Entry {
    /// List order: lowercased name, then creation, then id (as the SQL
    /// lists ordered).
    fn cmp_key(&self, other: &Entry) -> Ordering {
        (
            self.folded.as_str(),
            self.token.created_at,
            self.token.id.as_str(),
        )
            .cmp(&(
                other.folded.as_str(),
                other.token.created_at,
                other.token.id.as_str(),
            ))
    }
}

fn kind_index(kind: TokenKind) -> usize {
    match kind {
        TokenKind::Personal => 0,
        TokenKind::Service => 1,
    }
}

fn role_index(role: TokenRole) -> usize {
    match role {
        TokenRole::Reader => 0,
        TokenRole::Writer => 1,
        TokenRole::Admin => 2,
    }
}

type List = Vec<u32>;

#[derive(Default)]
struct Lists {
    all: List,
    by_kind: [List; 2],
    by_role: [List; 3],
    by_kind_role: [[List; 3]; 2],
    personal: HashMap<String, List>,
    personal_by_role: HashMap<String, [List; 3]>,
    grams: HashMap<Gram, List>,
}

/// What a search checks of every candidate, packed side by side (by
/// handle) so a scan of thousands reads consecutive memory, not scattered
/// entries.
#[derive(Clone, Copy, Default)]
struct Meta {
    kind: Option<TokenKind>,
    role: Option<TokenRole>,
    member: u32,
    /// Where the lowercased name sits in `State::names`.
    name_start: u32,
    name_len: u32,
}

#[derive(Default)]
pub(crate) struct State {
    slots: Vec<Option<Entry>>,
    meta: Vec<Meta>,
    free: Vec<u32>,
    by_id: HashMap<String, u32>,
    members: HashMap<String, MemberRecord>,
    /// Member ids as numbers (never reused while the catalog lives).
    member_numbers: HashMap<String, u32>,
    lists: Lists,
    /// Every entry's lowercased name, end to end: a search reads its
    /// candidates' names from here rather than chasing two pointers per
    /// candidate into scattered entries.
    names: Vec<u8>,
    /// Bytes of `names` no entry uses any more (removed or renamed).
    names_unused: usize,
}

impl State {
    fn member_number(&mut self, member_id: &str) -> u32 {
        let next = self.member_numbers.len() as u32;
        *self
            .member_numbers
            .entry(member_id.to_string())
            .or_insert(next)
    }

    fn new_entry(&mut self, token: TokenRecord) -> Entry {
        let folded = token.name.to_lowercase();
        let member = self.member_number(&token.member_id);
        Entry {
            token,
            folded,
            member,
        }
    }

    fn entry(&self, handle: u32) -> &Entry {
        self.slots[handle as usize]
            .as_ref()
            .expect("every listed handle has an entry")
    }

    /// The lists `handle` belongs in, each once.
    fn lists_of<'a>(lists: &'a mut Lists, e: &Entry) -> Vec<&'a mut List> {
        let (k, r) = (kind_index(e.token.kind), role_index(e.token.role));
        let Lists {
            all,
            by_kind,
            by_role,
            by_kind_role,
            personal,
            personal_by_role,
            ..
        } = lists;
        let mut out: Vec<&mut List> = vec![
            all,
            &mut by_kind[k],
            &mut by_role[r],
            &mut by_kind_role[k][r],
        ];
        if e.token.kind == TokenKind::Personal {
            out.push(personal.entry(e.token.member_id.clone()).or_default());
            out.push(
                &mut personal_by_role
                    .entry(e.token.member_id.clone())
                    .or_default()[r],
            );
        }
        out
    }

    fn insert(&mut self, token: TokenRecord) {
        let entry = self.new_entry(token);
        let handle = match self.free.pop() {
            Some(h) => h,
            None => {
                self.slots.push(None);
                self.meta.push(Meta::default());
                (self.slots.len() - 1) as u32
            }
        };
        self.meta[handle as usize] = Self::meta_of(&mut self.names, &entry);
        let State {
            slots,
            lists,
            by_id,
            ..
        } = self;
        by_id.insert(entry.token.id.clone(), handle);
        let place = |list: &mut List, slots: &[Option<Entry>]| {
            let at = list
                .binary_search_by(|&h| slots[h as usize].as_ref().expect("listed").cmp_key(&entry))
                .unwrap_or_else(|at| at);
            list.insert(at, handle);
        };
        for list in Self::lists_of(lists, &entry) {
            place(list, slots);
        }
        for g in grams_of(&entry.folded) {
            place(lists.grams.entry(g).or_default(), slots);
        }
        slots[handle as usize] = Some(entry);
    }

    fn remove(&mut self, id: &str) {
        let Some(handle) = self.by_id.remove(id) else {
            return;
        };
        let State { slots, lists, .. } = self;
        let entry = slots[handle as usize].take().expect("indexed");
        let unplace = |list: &mut List| {
            let at = list.binary_search_by(|&h| match h {
                h if h == handle => Ordering::Equal,
                h => slots[h as usize].as_ref().expect("listed").cmp_key(&entry),
            });
            if let Ok(at) = at {
                list.remove(at);
            }
        };
        for list in Self::lists_of(lists, &entry) {
            unplace(list);
        }
        for g in grams_of(&entry.folded) {
            if let Some(list) = lists.grams.get_mut(&g) {
                unplace(list);
                if list.is_empty() {
                    lists.grams.remove(&g);
                }
            }
        }
        if entry.token.kind == TokenKind::Personal {
            let member = &entry.token.member_id;
            if lists.personal.get(member).is_some_and(Vec::is_empty) {
                lists.personal.remove(member);
                lists.personal_by_role.remove(member);
            }
        }
        self.names_unused += self.meta[handle as usize].name_len as usize;
        self.meta[handle as usize] = Meta::default();
        self.free.push(handle);
        if self.names_unused > 64 * 1024 && self.names_unused > self.names.len() / 2 {
            self.compact_names();
        }
    }

    /// An entry's packed facts, its name appended to `names`.
    fn meta_of(names: &mut Vec<u8>, e: &Entry) -> Meta {
        let name_start = names.len() as u32;
        names.extend_from_slice(e.folded.as_bytes());
        Meta {
            kind: Some(e.token.kind),
            role: Some(e.token.role),
            member: e.member,
            name_start,
            name_len: e.folded.len() as u32,
        }
    }

    /// Rewrites `names` without the bytes nobody uses.
    fn compact_names(&mut self) {
        let mut names = Vec::with_capacity(self.names.len() - self.names_unused);
        for (slot, meta) in self.slots.iter().zip(self.meta.iter_mut()) {
            if let Some(e) = slot {
                *meta = Self::meta_of(&mut names, e);
            }
        }
        self.names = names;
        self.names_unused = 0;
    }

    /// The lowercased name of the entry `m` describes.
    fn name_of(&self, m: &Meta) -> &[u8] {
        let start = m.name_start as usize;
        &self.names[start..start + m.name_len as usize]
    }

    fn token(&self, handle: u32) -> Token {
        let t = &self.entry(handle).token;
        let member = self.members.get(&t.member_id);
        Token {
            id: t.id.clone(),
            name: t.name.clone(),
            description: t.description.clone(),
            role: t.role,
            kind: t.kind,
            member_id: t.member_id.clone(),
            member_email: member.map(|m| m.email.clone()).unwrap_or_default(),
            member_role: member.map(|m| m.role).unwrap_or(MemberRole::NoAccess),
            api_version: t.api_version,
            created_at: t.created_at,
            updated_at: t.updated_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            last_four: t.last_four.clone(),
            version: t.version,
            suspended_at: t.suspended_at,
            old_secret_until: t.old_secret_until,
            old_secret_last_used_at: t.old_secret_last_used_at,
        }
    }

    /// The (at most two, disjoint) sorted lists whose union a filter
    /// selects, without a name search.
    fn lists_for(
        &self,
        scope: TokenScope<'_>,
        role: Option<TokenRole>,
        kind: Option<TokenKind>,
    ) -> Vec<&List> {
        let l = &self.lists;
        let global = |kind: Option<TokenKind>| match (kind, role) {
            (None, None) => &l.all,
            (Some(k), None) => &l.by_kind[kind_index(k)],
            (None, Some(r)) => &l.by_role[role_index(r)],
            (Some(k), Some(r)) => &l.by_kind_role[kind_index(k)][role_index(r)],
        };
        let personal = |member: &str| match role {
            None => l.personal.get(member),
            Some(r) => l
                .personal_by_role
                .get(member)
                .map(|lists| &lists[role_index(r)]),
        };
        match scope {
            TokenScope::Everything => vec![global(kind)],
            TokenScope::ServiceOnly => match kind {
                Some(TokenKind::Personal) => vec![],
                _ => vec![global(Some(TokenKind::Service))],
            },
            TokenScope::OwnAndService { member_id } => {
                let mut out = Vec::new();
                if kind != Some(TokenKind::Personal) {
                    out.push(global(Some(TokenKind::Service)));
                }
                if kind != Some(TokenKind::Service) {
                    out.extend(personal(member_id));
                }
                out
            }
        }
    }

    /// One page (`q.offset`, `q.limit`) of the tokens whose names contain
    /// `needle` (lowercased) and that `q`'s scope, role and kind admit, in
    /// list order, and how many there are.
    fn search(&self, q: &Query<'_>, needle: &str) -> (Vec<u32>, usize) {
        let state = self;
        let chars: Vec<char> = needle.chars().collect();
        // Up to three characters: the posting list is the answer.
        // Longer: the rarest trigram's candidates, each checked.
        let (candidates, exact) = if chars.len() <= 3 {
            (state.lists.grams.get(&gram(&chars)), true)
        } else {
            let rarest = chars
                .windows(3)
                .map(|w| state.lists.grams.get(&gram(w)))
                .min_by_key(|l| l.map_or(0, |l| l.len()));
            (rarest.flatten(), false)
        };
        // (`limit` may be "all": a sorted view collects every match.)
        let mut page = Vec::with_capacity(q.limit.min(1024));
        let mut total = 0usize;
        // The scope's member as a number (`u32::MAX`: nobody's), so
        // the rule is asked of numbers, not strings, per candidate.
        let own = match q.scope {
            TokenScope::OwnAndService { member_id } => state
                .member_numbers
                .get(member_id)
                .copied()
                .unwrap_or(u32::MAX),
            _ => u32::MAX,
        };
        for &h in candidates.map(|l| l.as_slice()).unwrap_or_default() {
            let m = state.meta[h as usize];
            let Some(kind) = m.kind else { continue };
            let wanted = q.role.is_none_or(|r| Some(r) == m.role)
                && q.kind.is_none_or(|k| k == kind)
                && q.scope.admits(kind, |_| m.member == own)
                && (exact || contains(state.name_of(&m), needle.as_bytes()));
            if wanted {
                if total >= q.offset && page.len() < q.limit {
                    page.push(h);
                }
                total += 1;
            }
        }
        (page, total)
    }

    /// What `sort_fields` of a handle's token are.
    fn sort_fields(&self, handle: u32) -> SortFields {
        let t = &self.entry(handle).token;
        SortFields {
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }

    /// A list in any order but the default, or narrowed by time: every
    /// match is collected and sorted (by the column, then in list order),
    /// so it costs O(n log n) in the matches, where the default order is a
    /// slice of a list kept sorted.
    fn sorted_list(&self, q: &Query<'_>, needle: Option<&str>) -> (Vec<Token>, i64) {
        let mut matches: Vec<u32> = match needle {
            None => self
                .lists_for(q.scope, q.role, q.kind)
                .into_iter()
                .flat_map(|l| l.iter().copied())
                .collect(),
            Some(needle) => {
                let all = Query {
                    sort: Sort::default(),
                    time: TimeFilter::default(),
                    limit: usize::MAX,
                    offset: 0,
                    name_contains: Some(needle),
                    ..*q
                };
                self.search(&all, needle).0
            }
        };
        matches.retain(|&h| q.time.admits(&self.sort_fields(h)));
        matches.sort_by(|&a, &b| {
            q.sort
                .compare(&self.sort_fields(a), &self.sort_fields(b))
                .then_with(|| {
                    let by_name = self.entry(a).cmp_key(self.entry(b));
                    // Name descending is the column itself, reversed.
                    if q.sort.key == SortKey::Name && q.sort.descending {
                        by_name.reverse()
                    } else {
                        by_name
                    }
                })
        });
        let total = matches.len();
        let tokens = matches
            .into_iter()
            .skip(q.offset)
            .take(q.limit)
            .map(|h| self.token(h))
            .collect();
        (tokens, i64::try_from(total).unwrap_or(i64::MAX))
    }

    /// `limit` handles from position `offset` of the union of `lists`.
    fn page_of(&self, lists: &[&List], offset: usize, limit: usize) -> Vec<u32> {
        match lists {
            [] => Vec::new(),
            [one] => one.iter().skip(offset).take(limit).copied().collect(),
            [a, b] => {
                // The split i + j = offset where everything before is in
                // order: the smallest i with a[i] after b[offset - i - 1].
                let less = |x: u32, y: u32| self.entry(x).cmp_key(self.entry(y)) == Ordering::Less;
                let offset = offset.min(a.len() + b.len());
                let (mut lo, mut hi) = (offset.saturating_sub(b.len()), offset.min(a.len()));
                while lo < hi {
                    let i = (lo + hi) / 2;
                    let j = offset - i;
                    // Too few taken from `a` when a[i] comes before b[j - 1].
                    if j > 0 && i < a.len() && less(a[i], b[j - 1]) {
                        lo = i + 1;
                    } else {
                        hi = i;
                    }
                }
                let (mut i, mut j) = (lo, offset - lo);
                let mut out = Vec::with_capacity(limit);
                while out.len() < limit && (i < a.len() || j < b.len()) {
                    let take_a = j >= b.len() || (i < a.len() && less(a[i], b[j]));
                    if take_a {
                        out.push(a[i]);
                        i += 1;
                    } else {
                        out.push(b[j]);
                        j += 1;
                    }
                }
                out
            }
            _ => unreachable!("a filter selects at most two lists"),
        }
    }
}

/// Which tokens a list asks for.
pub(crate) struct Query<'a> {
    pub scope: TokenScope<'a>,
    pub role: Option<TokenRole>,
    pub kind: Option<TokenKind>,
    /// A name substring, matched case-insensitively.
    pub name_contains: Option<&'a str>,
    pub sort: Sort,
    pub time: TimeFilter,
    pub limit: usize,
    pub offset: usize,
}

#[derive(Default)]
pub(crate) struct Catalog {
    state: RwLock<State>,
}

impl Catalog {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Builds a catalog from everything at once (sorting once, rather than
    /// inserting one by one).
    pub fn build(tokens: Vec<TokenRecord>, members: HashMap<String, MemberRecord>) -> State {
        let mut state = State {
            members,
            ..State::default()
        };
        let mut entries: Vec<Entry> = tokens
            .into_iter()
            .map(|token| state.new_entry(token))
            .collect();
        // Handles in list order: every list, and so a search's candidates,
        // then walks `meta` and `names` front to back, where the memory
        // prefetcher keeps up (in load order, a search spent 80% of its
        // scan waiting for cache misses).
        entries.sort_by(Entry::cmp_key);
        let order: Vec<u32> = (0..entries.len() as u32).collect();
        let names = &mut state.names;
        state.meta = entries.iter().map(|e| State::meta_of(names, e)).collect();
        state.slots = entries.into_iter().map(Some).collect();
        for &handle in &order {
            let State {
                slots,
                lists,
                by_id,
                ..
            } = &mut state;
            let entry = slots[handle as usize].as_ref().expect("built");
            by_id.insert(entry.token.id.clone(), handle);
            for list in State::lists_of(lists, entry) {
                list.push(handle);
            }
            for g in grams_of(&entry.folded) {
                lists.grams.entry(g).or_default().push(handle);
            }
        }
        // Pushing left up to half of each list unused.
        for list in state.lists.grams.values_mut() {
            list.shrink_to_fit();
        }
        state.lists.grams.shrink_to_fit();
        state
    }

    pub fn replace_with(&self, fresh: State) {
        *self.write() = fresh;
    }

    /// A token as the database now holds it; `None` when it is gone.
    pub fn put_token(&self, id: &str, fresh: Option<TokenRecord>) {
        let mut state = self.write();
        let same = fresh.as_ref().is_some_and(|t| {
            state
                .by_id
                .get(id)
                .is_some_and(|&h| state.entry(h).token == *t)
        });
        if same {
            return;
        }
        state.remove(id);
        if let Some(token) = fresh {
            state.insert(token);
        }
    }

    /// A member as the database now holds them; `None` when removed.
    pub fn put_member(&self, id: &str, fresh: Option<MemberRecord>) {
        let mut state = self.write();
        match fresh {
            Some(m) => {
                state.members.insert(id.to_string(), m);
            }
            None => {
                state.members.remove(id);
            }
        }
    }

    /// A token as lists show it.
    pub fn get(&self, id: &str) -> Option<Token> {
        let state = self.read();
        state.by_id.get(id).map(|&h| state.token(h))
    }

    /// A current member's email and role.
    pub fn member(&self, id: &str) -> Option<MemberRecord> {
        self.read().members.get(id).cloned()
    }

    /// Notes uses of tokens: `(id, last used, old secret last used)`; a
    /// later time wins.
    pub fn note_uses(&self, uses: &[(String, i64, Option<i64>)]) {
        let mut state = self.write();
        for (id, at, old_at) in uses {
            if let Some(&h) = state.by_id.get(id.as_str())
                && let Some(entry) = state.slots[h as usize].as_mut()
            {
                let t = &mut entry.token;
                t.last_used_at = t.last_used_at.max(Some(*at));
                t.old_secret_last_used_at = t.old_secret_last_used_at.max(*old_at);
            }
        }
    }

    /// One page of what `q` asks for, in list order, and how many there are.
    pub fn list(&self, q: &Query<'_>) -> (Vec<Token>, i64) {
        let state = self.read();
        let needle = q
            .name_contains
            .filter(|n| !n.is_empty())
            .map(str::to_lowercase);
        if !q.sort.is_default() || !q.time.is_empty() {
            return state.sorted_list(q, needle.as_deref());
        }
        let (handles, total) = match needle {
            None => {
                let lists = state.lists_for(q.scope, q.role, q.kind);
                let total: usize = lists.iter().map(|l| l.len()).sum();
                (state.page_of(&lists, q.offset, q.limit), total)
            }
            Some(needle) => state.search(q, &needle),
        };
        let tokens = handles.into_iter().map(|h| state.token(h)).collect();
        (tokens, i64::try_from(total).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(
        id: usize,
        name: &str,
        kind: TokenKind,
        role: TokenRole,
        member: &str,
    ) -> TokenRecord {
        TokenRecord {
            id: format!("{id:024x}"),
            name: name.to_string(),
            description: String::new(),
            role,
            kind,
            member_id: member.to_string(),
            api_version: 20240415,
            created_at: id as i64,
            updated_at: id as i64,
            last_used_at: None,
            expires_at: None,
            last_four: "abcd".into(),
            version: 1,
            suspended_at: None,
            old_secret_until: None,
            old_secret_last_used_at: None,
        }
    }

    /// A pseudo-random mix of names, kinds, roles and members.
    fn sample(n: usize) -> Vec<TokenRecord> {
        let words = [
            "Deploy",
            "ci",
            "Backup",
            "grafana",
            "Ärger",
            "İstanbul",
            "ß-Straße",
            "x",
            "50% off",
            "a_b",
        ];
        (0..n)
            .map(|i| {
                let name = format!(
                    "{} {} {}",
                    words[i * 7 % words.len()],
                    i % 13,
                    words[i * 3 % words.len()]
                );
                let kind = if i % 4 == 0 {
                    TokenKind::Service
                } else {
                    TokenKind::Personal
                };
                let role = TokenRole::ALL[i % 3];
                let member = ["m1", "m2", "m3"][i % 3];
                let mut t = record(i, &name, kind, role, member);
                // Some used, some expiring, in an order unlike creation's.
                t.last_used_at = (i % 3 != 0).then_some((i * 37 % 101) as i64);
                t.expires_at = (i % 4 == 1).then_some((i * 53 % 97) as i64);
                t
            })
            .collect()
    }

    fn fields(t: &TokenRecord) -> SortFields {
        SortFields {
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
        }
    }

    /// What the SQL did: filter everything, sort, slice.
    fn expected(all: &[TokenRecord], q: &Query<'_>) -> (Vec<String>, i64) {
        let needle = q.name_contains.map(str::to_lowercase);
        let mut matching: Vec<&TokenRecord> = all
            .iter()
            .filter(|t| q.scope.contains(t.kind, &t.member_id))
            .filter(|t| q.role.is_none_or(|r| r == t.role))
            .filter(|t| q.kind.is_none_or(|k| k == t.kind))
            .filter(|t| {
                needle
                    .as_deref()
                    .is_none_or(|n| t.name.to_lowercase().contains(n))
            })
            .filter(|t| q.time.admits(&fields(t)))
            .collect();
        matching.sort_by(|a, b| {
            let by_name = (a.name.to_lowercase(), a.created_at, &a.id).cmp(&(
                b.name.to_lowercase(),
                b.created_at,
                &b.id,
            ));
            let by_name = if q.sort.key == SortKey::Name && q.sort.descending {
                by_name.reverse()
            } else {
                by_name
            };
            q.sort.compare(&fields(a), &fields(b)).then(by_name)
        });
        let total = matching.len() as i64;
        let page = matching
            .into_iter()
            .skip(q.offset)
            .take(q.limit)
            .map(|t| t.id.clone())
            .collect();
        (page, total)
    }

    /// Sorts and hygiene views to try, default first.
    fn views() -> Vec<(Sort, TimeFilter)> {
        let sort = |key, descending| Sort { key, descending };
        vec![
            (Sort::default(), TimeFilter::default()),
            (sort(SortKey::Name, true), TimeFilter::default()),
            (sort(SortKey::Created, true), TimeFilter::default()),
            (
                sort(SortKey::LastUsed, false),
                TimeFilter {
                    unused_since: Some(60),
                    expiring: None,
                },
            ),
            (sort(SortKey::Expires, false), TimeFilter::default()),
            (
                Sort::default(),
                TimeFilter {
                    unused_since: None,
                    expiring: Some((10, 70)),
                },
            ),
            (sort(SortKey::Expires, true), TimeFilter::default()),
        ]
    }

    fn members() -> HashMap<String, MemberRecord> {
        ["m1", "m2", "m3"]
            .into_iter()
            .map(|m| {
                let record = MemberRecord {
                    email: format!("{m}@x.io"),
                    role: MemberRole::Admin,
                    created_at: 0,
                };
                (m.to_string(), record)
            })
            .collect()
    }

    fn check(catalog: &Catalog, all: &[TokenRecord]) {
        let scopes = [
            TokenScope::Everything,
            TokenScope::ServiceOnly,
            TokenScope::OwnAndService { member_id: "m1" },
            TokenScope::OwnAndService {
                member_id: "nobody",
            },
        ];
        let needles = [
            None,
            Some("a"),
            Some("St"),
            Some("ci "),
            Some("deploy 1"),
            Some("İ"),
            Some("ss"),
            Some("%"),
            Some("zzz"),
            Some("1 x"),
        ];
        for scope in scopes {
            for role in [None, Some(TokenRole::Writer)] {
                for kind in [None, Some(TokenKind::Personal), Some(TokenKind::Service)] {
                    for (needle, (sort, time)) in
                        needles.iter().copied().zip(views().into_iter().cycle())
                    {
                        for (offset, limit) in [
                            (0, 7),
                            (5, 50),
                            (all.len().saturating_sub(3), 50),
                            (10_000, 5),
                        ] {
                            let q = Query {
                                scope,
                                role,
                                kind,
                                name_contains: needle,
                                sort,
                                time,
                                limit,
                                offset,
                            };
                            let (tokens, total) = catalog.list(&q);
                            let got: Vec<String> = tokens.into_iter().map(|t| t.id).collect();
                            assert_eq!(
                                (got, total),
                                expected(all, &q),
                                "{scope:?} {role:?} {kind:?} {needle:?} {sort:?} {time:?} {offset}+{limit}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Renames and deletes leave names nobody uses in the packed name
    /// bytes until they are rewritten; searches stay right across that.
    #[test]
    fn searches_stay_right_when_the_names_are_compacted() {
        let mut all = sample(600);
        for t in &mut all {
            t.name = format!("{} {}", t.name, "long name padding ".repeat(12));
        }
        let catalog = Catalog::default();
        catalog.replace_with(Catalog::build(all.clone(), members()));
        for t in all.iter_mut().step_by(2) {
            t.name = format!("short {}", t.id);
            catalog.put_token(&t.id, Some(t.clone()));
        }
        for t in all.iter().skip(1).step_by(4) {
            catalog.put_token(&t.id, None);
        }
        let all: Vec<TokenRecord> = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % 4 != 1)
            .map(|(_, t)| t)
            .collect();
        {
            let state = catalog.read();
            assert!(
                state.names_unused < state.names.len() / 2,
                "compacted: {} of {} unused",
                state.names_unused,
                state.names.len()
            );
        }
        check(&catalog, &all);
    }

    #[test]
    fn contains_matches_str_contains() {
        let hay = [
            "",
            "a",
            "ab",
            "abc",
            "aab",
            "bench token 09000",
            "ééa",
            "a\u{0}b",
        ];
        let needles = [
            "", "a", "b", "ab", "aa", "abc", "abcd", "token 09", "09000", "éa", "\u{0}",
        ];
        for h in hay {
            for n in needles {
                assert_eq!(
                    contains(h.as_bytes(), n.as_bytes()),
                    h.contains(n),
                    "{h:?} {n:?}"
                );
            }
        }
    }

    #[test]
    fn lists_and_searches_match_a_filter_sort_and_slice() {
        let mut all = sample(300);
        let catalog = Catalog::default();
        catalog.replace_with(Catalog::build(all.clone(), members()));
        check(&catalog, &all);

        // Changes one at a time keep every list in order: renames, role
        // changes, deletes, creates.
        for i in (0..300).step_by(7) {
            let mut t = all[i].clone();
            t.name = format!("renamed {i} Zebra");
            t.role = TokenRole::ALL[(i + 1) % 3];
            catalog.put_token(&t.id, Some(t.clone()));
            all[i] = t;
        }
        for i in (3..300).step_by(11) {
            catalog.put_token(&all[i].id.clone(), None);
        }
        let removed: std::collections::HashSet<usize> = (3..300).step_by(11).collect();
        let mut all: Vec<TokenRecord> = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !removed.contains(i))
            .map(|(_, t)| t)
            .collect();
        for i in 300..340 {
            let t = record(
                i,
                &format!("new {i} Deploy"),
                TokenKind::Personal,
                TokenRole::Admin,
                "m1",
            );
            catalog.put_token(&t.id, Some(t.clone()));
            all.push(t);
        }
        check(&catalog, &all);
    }

    #[test]
    fn uses_merge_to_the_latest() {
        let all = sample(3);
        let catalog = Catalog::default();
        catalog.replace_with(Catalog::build(all.clone(), members()));
        let id = all[1].id.clone();
        catalog.note_uses(&[(id.clone(), 50, None)]);
        catalog.note_uses(&[(id.clone(), 20, Some(20))]);
        catalog.note_uses(&[(id.clone(), 10, Some(10))]);
        let q = Query {
            scope: TokenScope::Everything,
            role: None,
            kind: None,
            name_contains: None,
            sort: Sort::default(),
            time: TimeFilter::default(),
            limit: 10,
            offset: 0,
        };
        let (tokens, _) = catalog.list(&q);
        let t = tokens.iter().find(|t| t.id == id).expect("listed");
        assert_eq!(t.last_used_at, Some(50));
        assert_eq!(t.old_secret_last_used_at, Some(20));
        assert_eq!(t.member_email, "m2@x.io");
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// `cargo test --release --lib catalog_timing -- --ignored --nocapture`:
    /// how long a page and a search take on 10,000 bench-like tokens.
    #[test]
    #[ignore]
    fn catalog_timing() {
        let tokens: Vec<TokenRecord> = (0..10_000)
            .map(|i| TokenRecord {
                id: format!("{i:024x}"),
                name: format!("bench token {i:05}"),
                description: String::new(),
                role: TokenRole::ALL[i % 3],
                kind: if i % 4 == 0 {
                    TokenKind::Service
                } else {
                    TokenKind::Personal
                },
                member_id: "owner".into(),
                api_version: 20240415,
                created_at: i as i64,
                updated_at: i as i64,
                last_used_at: None,
                expires_at: None,
                last_four: "abcd".into(),
                version: 1,
                suspended_at: None,
                old_secret_until: None,
                old_secret_last_used_at: None,
            })
            .collect();
        let members = [(
            "owner".to_string(),
            MemberRecord {
                email: "o@x.io".into(),
                role: MemberRole::Owner,
                created_at: 0,
            },
        )]
        .into();
        let catalog = Catalog::default();
        catalog.replace_with(Catalog::build(tokens, members));
        for (what, needle) in [
            ("page", None),
            ("search", Some("token 09")),
            ("short", Some("9")),
        ] {
            let q = Query {
                scope: TokenScope::OwnAndService { member_id: "owner" },
                role: None,
                kind: None,
                name_contains: needle,
                sort: Sort::default(),
                time: TimeFilter::default(),
                limit: 50,
                offset: 0,
            };
            let start = std::time::Instant::now();
            for _ in 0..2000 {
                std::hint::black_box(catalog.list(&q));
            }
            println!(
                "{what}: {:.1} us",
                start.elapsed().as_secs_f64() * 1e6 / 2000.0
            );
        }
    }
}
