"""Reserved for the deploy stage of the data flow (see DEVELOPERS.md); nothing here yet."""

__all__: list[str] = []
