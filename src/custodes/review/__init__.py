"""The human review queue for face check-ins that were not clearly verified.
Reviewers decide same / different person / unusable; an adverse decision needs a second reviewer."""
