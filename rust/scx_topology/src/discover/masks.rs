//! Stage 2: choose each CPU's mask of one kind among the forms it reports.
//!
//! A mask (intersected with the online CPUs) is valid for CPU `c` only if it
//! contains `c` and every other CPU it names reports the same mask in one of
//! its forms (a CPU that reports nothing readable does not object). The list
//! form is tried first, then the hex form; a stale list copied from another
//! CPU and a corrupted hex map are both caught, whichever way round. A bad
//! mask is never repaired (by adding `c` or otherwise): the caller falls back
//! to another source.

use std::collections::BTreeSet;

use super::read::Form;
use crate::Cpumask;

/// The outcome for one CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Choice {
    /// A valid mask (within the online CPUs); `rejected` lists the forms
    /// that were present but not valid.
    Valid { mask: Cpumask, rejected: Vec<Form> },
    /// Every form present is empty: an all-zero map, an empty list.
    Empty,
    /// Forms present, none of them valid.
    Invalid(Vec<Form>),
    /// No form could be read.
    Missing,
}

/// Chooses masks of one kind for many CPUs, remembering the masks already
/// proven valid (so a group of `n` CPUs is checked once, not `n` times).
pub(crate) struct Validator {
    online: Cpumask,
    known: BTreeSet<Cpumask>,
}

const FORMS: [Form; 2] = [Form::List, Form::Hex];

impl Validator {
    pub fn new(online: &Cpumask) -> Self {
        Self {
            online: online.clone(),
            known: BTreeSet::new(),
        }
    }

    /// Choose `cpu`'s mask; `forms(cpu, form)` reads one form of one CPU's
    /// mask (`None`: missing or unreadable).
    pub fn choose(
        &mut self,
        cpu: usize,
        forms: &mut dyn FnMut(usize, Form) -> Option<Cpumask>,
    ) -> Choice {
        let mut rejected = Vec::new();
        let mut any = false;
        let mut nonempty = false;
        for form in FORMS {
            let Some(raw) = forms(cpu, form) else {
                continue;
            };
            any = true;
            nonempty |= !raw.is_empty();
            let m = raw.and(&self.online);
            if self.valid(cpu, &m, forms) {
                self.known.insert(m.clone());
                return Choice::Valid { mask: m, rejected };
            }
            rejected.push(form);
        }
        if !any {
            Choice::Missing
        } else if !nonempty {
            Choice::Empty
        } else {
            Choice::Invalid(rejected)
        }
    }

    fn valid(
        &self,
        cpu: usize,
        m: &Cpumask,
        forms: &mut dyn FnMut(usize, Form) -> Option<Cpumask>,
    ) -> bool {
        if !m.test(cpu) {
            return false;
        }
        if self.known.contains(m) {
            return true;
        }
        for other in m.iter().filter(|&o| o != cpu) {
            let mut reported = false;
            let mut agrees = false;
            for form in FORMS {
                if let Some(x) = forms(other, form) {
                    reported = true;
                    if x.and(&self.online) == *m {
                        agrees = true;
                        break;
                    }
                }
            }
            if reported && !agrees {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn l(s: &str) -> Cpumask {
        Cpumask::parse_list(s).unwrap()
    }

    /// Per CPU: (list form, hex form).
    type Forms = BTreeMap<usize, (Option<Cpumask>, Option<Cpumask>)>;

    fn choose_all(online: &str, f: &Forms) -> BTreeMap<usize, Choice> {
        let online = l(online);
        let mut v = Validator::new(&online);
        let mut read = |c: usize, form: Form| -> Option<Cpumask> {
            let (a, b) = f.get(&c)?;
            match form {
                Form::List => a.clone(),
                Form::Hex => b.clone(),
            }
        };
        online.iter().map(|c| (c, v.choose(c, &mut read))).collect()
    }

    fn both(s: &str) -> (Option<Cpumask>, Option<Cpumask>) {
        (Some(l(s)), Some(l(s)))
    }

    fn valid(s: &str, rejected: Vec<Form>) -> Choice {
        Choice::Valid {
            mask: l(s),
            rejected,
        }
    }

    #[test]
    fn consistent_masks_are_valid() {
        let f: Forms = (0..4)
            .map(|c| (c, both(if c < 2 { "0-1" } else { "2-3" })))
            .collect();
        let r = choose_all("0-3", &f);
        assert_eq!(r[&0], valid("0-1", vec![]));
        assert_eq!(r[&3], valid("2-3", vec![]));
    }

    #[test]
    fn stale_list_from_another_cpu_uses_hex() {
        let mut f: Forms = (0..4)
            .map(|c| (c, both(if c < 2 { "0-1" } else { "2-3" })))
            .collect();
        // CPU 2's list was copied from CPU 0.
        f.get_mut(&2).unwrap().0 = Some(l("0-1"));
        let r = choose_all("0-3", &f);
        assert_eq!(r[&2], valid("2-3", vec![Form::List]));
        assert_eq!(r[&0], valid("0-1", vec![]));
    }

    #[test]
    fn stale_list_containing_the_cpu_is_caught_by_the_others() {
        let mut f: Forms = (0..4)
            .map(|c| (c, both(if c < 2 { "0-1" } else { "2-3" })))
            .collect();
        // CPU 1's list names all four; CPUs 2 and 3 disagree.
        f.get_mut(&1).unwrap().0 = Some(l("0-3"));
        let r = choose_all("0-3", &f);
        assert_eq!(r[&1], valid("0-1", vec![Form::List]));
    }

    #[test]
    fn corrupted_hex_uses_list() {
        let mut f: Forms = (0..4)
            .map(|c| (c, both(if c < 2 { "0-1" } else { "2-3" })))
            .collect();
        f.get_mut(&0).unwrap().1 = Some(l("0,3"));
        let r = choose_all("0-3", &f);
        assert_eq!(r[&0], valid("0-1", vec![]));
        assert_eq!(r[&3], valid("2-3", vec![]));
    }

    #[test]
    fn neither_form_valid_is_invalid_never_repaired() {
        let mut f: Forms = (0..4)
            .map(|c| (c, both(if c < 2 { "0-1" } else { "2-3" })))
            .collect();
        // Both forms of CPU 0 leave CPU 0 out: not fixed by adding it.
        f.insert(0, both("1"));
        let r = choose_all("0-3", &f);
        assert_eq!(r[&0], Choice::Invalid(vec![Form::List, Form::Hex]));
        // CPU 1's mask names CPU 0, which reports another mask.
        assert_eq!(r[&1], Choice::Invalid(vec![Form::List, Form::Hex]));
    }

    #[test]
    fn empty_and_missing() {
        let mut f: Forms = BTreeMap::new();
        f.insert(0, both(""));
        f.insert(1, (None, Some(l(""))));
        let r = choose_all("0-2", &f);
        assert_eq!(r[&0], Choice::Empty);
        assert_eq!(r[&1], Choice::Empty);
        assert_eq!(r[&2], Choice::Missing);
    }

    #[test]
    fn silent_members_do_not_object_and_offline_cpus_are_dropped() {
        let mut f: Forms = BTreeMap::new();
        // CPU 1 reports nothing; CPU 5 is offline.
        f.insert(0, both("0-1,5"));
        let r = choose_all("0-3", &f);
        assert_eq!(r[&0], valid("0-1", vec![]));
    }
}
