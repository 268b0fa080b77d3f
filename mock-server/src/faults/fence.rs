//! e-fence per-image failures: images of a batch that fail inside a successful answer, asked
//! for by a rule (`{"fence_fail": [2, 5]}` or `{"fence_fail": 3}`) or by an image's ground
//! truth (`"fence_fail": true`). The answer stays code 0; `message` counts the failed images
//! in `fail`, and each keeps its place in `result` as `{"location": []}` — without
//! `target_num`, the one field the manual marks optional (docs/decisions.md says why).

use serde_json::{json, Value};

use super::rng::Rng;
use super::{Action, Shape};
use crate::catalogue::{Capability, Catalogue};
use crate::respond::Answer;

/// Which images of a batch a fired rule makes fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// These images, numbered from 1 in the order sent; numbers past the batch are ignored.
    Numbers(Vec<usize>),
    /// This many images (all of a smaller batch), chosen by `draw`: one draw from the
    /// rule's generator, so the same seed picks the same images.
    Count { n: usize, draw: u64 },
}

/// A failed image's entry in `result`.
pub fn failed_entry() -> Value {
    json!({ "location": [] })
}

/// The batch's `message`: `{"success": n, "fail": m}`.
pub fn message(success: usize, fail: usize) -> Value {
    json!({ "success": success, "fail": fail })
}

/// Whether `endpoint` answers e-fence batches (where per-image failures exist).
pub fn is_fence(endpoint: &str) -> bool {
    Catalogue::get().endpoint(endpoint).is_some_and(|e| matches!(e.capability, Capability::Fence { .. }))
}

/// The answer with the images a fired rule picked failed. Any other answer, or an answer
/// with no such rule, passes unchanged; a refusal stays a refusal.
pub fn fail_picked(answer: Answer, fault: Option<&Action>) -> Answer {
    let Some(Action::Shape(Shape::FailImages(pick))) = fault else { return answer };
    let (mut entries, note) = match answer {
        Answer::Success { result: Value::Array(entries), note, .. } => (entries, note),
        other => return other,
    };
    for index in picked(pick, entries.len()) {
        entries[index] = failed_entry();
    }
    let fail = entries.iter().filter(|e| **e == failed_entry()).count();
    Answer::Success { message: Some(message(entries.len() - fail, fail)), result: Value::Array(entries), note }
}

/// The 0-based indices a pick names in a batch of `len` images, in ascending order.
fn picked(pick: &Pick, len: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = match pick {
        Pick::Numbers(numbers) => numbers.iter().filter(|n| (1..=len).contains(n)).map(|n| n - 1).collect(),
        Pick::Count { n, draw } => {
            // A partial Fisher–Yates shuffle: the first `n` places are a uniform choice.
            let mut all: Vec<usize> = (0..len).collect();
            let mut rng = Rng::new(*draw);
            for i in 0..(*n).min(len) {
                let j = i + (rng.next_u64() % (len - i) as u64) as usize;
                all.swap(i, j);
            }
            all.truncate(*n);
            all
        }
    };
    indices.sort_unstable();
    indices.dedup();
    indices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(len: usize) -> Answer {
        let entry = json!({"target_num": 1, "location": [{"left": 1, "top": 2, "width": 3, "height": 4}]});
        Answer::Success { message: Some(message(len, 0)), result: Value::Array(vec![entry; len]), note: None }
    }

    fn fail(answer: Answer, pick: Pick) -> (Value, Vec<bool>) {
        match fail_picked(answer, Some(&Action::Shape(Shape::FailImages(pick)))) {
            Answer::Success { message, result, .. } => {
                let failed = result.as_array().expect("a list").iter().map(|e| *e == failed_entry()).collect();
                (message.expect("a message"), failed)
            }
            other => panic!("not a success: {other:?}"),
        }
    }

    #[test]
    fn numbered_images_fail_in_place_and_numbers_past_the_batch_are_ignored() {
        let (message, failed) = fail(batch(5), Pick::Numbers(vec![5, 2, 9, 2]));
        assert_eq!(message, json!({"success": 3, "fail": 2}));
        assert_eq!(failed, vec![false, true, false, false, true]);
    }

    #[test]
    fn a_count_picks_that_many_images_the_same_way_for_the_same_draw() {
        let (message, failed) = fail(batch(8), Pick::Count { n: 3, draw: 7 });
        assert_eq!(message, json!({"success": 5, "fail": 3}));
        assert_eq!(failed.iter().filter(|f| **f).count(), 3);
        assert_eq!(fail(batch(8), Pick::Count { n: 3, draw: 7 }).1, failed);
        let others: Vec<Vec<bool>> = (8..16).map(|draw| fail(batch(8), Pick::Count { n: 3, draw }).1).collect();
        assert!(others.iter().any(|o| *o != failed), "every draw picked the same images");
        assert_eq!(fail(batch(2), Pick::Count { n: 3, draw: 7 }).0, json!({"success": 0, "fail": 2}));
    }

    #[test]
    fn images_already_failed_by_their_ground_truth_are_counted_once() {
        let Answer::Success { result, .. } = batch(3) else { unreachable!() };
        let mut entries = result.as_array().expect("a list").clone();
        entries[0] = failed_entry();
        let answer = Answer::Success { message: Some(message(2, 1)), result: Value::Array(entries), note: None };
        assert_eq!(fail(answer, Pick::Numbers(vec![1, 3])).0, json!({"success": 1, "fail": 2}));
    }

    #[test]
    fn refusals_and_other_actions_pass_unchanged() {
        let refused = Answer::Refused(crate::respond::Refusal::new(4009, "x"));
        let pick = Action::Shape(Shape::FailImages(Pick::Numbers(vec![1])));
        assert!(matches!(fail_picked(refused, Some(&pick)), Answer::Refused(r) if r.code == 4009));
        let unchanged = fail_picked(batch(2), Some(&Action::Code(5000)));
        assert!(matches!(unchanged, Answer::Success { message: Some(m), .. } if m == message(2, 0)));
        assert!(is_fence("fence") && !is_fence("hat"));
    }
}
