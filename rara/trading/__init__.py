"""Trading: the one order path that paper and live share.

A closed bar from a feed (`rara.trading.feeds`) -> the strategy's signal on its trailing window,
computed in the sandbox (`signals`) -> an order intent -> the risk gate (`risk`, a pure function
of trading state, locks, account and intent) -> the journal (`orders`: a
``trading_order_submitted`` event with a deterministic client order id, written before anything
is sent) -> a venue (`venue.Venue`: `venues.paper.PaperVenue` with the backtest's fill rules, or
the ccxt adapter) -> fills booked once in the ledger (`rara.ledger`).

The ports (`venue.Venue`, `feeds.Feed`) are small on purpose, the way httpx's transport is: a test
or a new exchange swaps one class.
"""
