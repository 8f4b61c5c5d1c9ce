"""Where the retrieval index lives: one :class:`~.base.Storage` contract, an engine per URL scheme
(:func:`.factory.open_storage`).
"""
