from bot.errors import UserFacingError, new_error_id, user_message_for


class PointsLikeError(ValueError):
    __module__ = "bot.points"


def test_user_facing_errors_carry_their_sentence() -> None:
    assert user_message_for(UserFacingError("That frame does not exist.")) == (
        "That frame does not exist."
    )


def test_parser_value_errors_from_bot_are_shown_but_foreign_ones_are_not() -> None:
    assert user_message_for(PointsLikeError("`Z9` is not a cell")) == "`Z9` is not a cell"
    assert user_message_for(ValueError("invalid literal for int()")) is None
    assert user_message_for(KeyError("token")) is None


def test_error_ids_are_short_and_distinct() -> None:
    ids = {new_error_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 8 for i in ids)
