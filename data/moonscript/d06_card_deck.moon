-- Card deck with shuffling, dealing and a blackjack hand evaluator

SUITS = {"hearts", "diamonds", "clubs", "spades"}
RANKS = {"A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K"}

class Card
    new: (@rank, @suit) =>

    value: =>
        switch @rank
            when "A" then 11
            when "J", "Q", "K" then 10
            else tonumber @rank

    __tostring: => "#{@rank} of #{@suit}"


class Deck
    new: (rng = math.random) =>
        @rng = rng
        @reset!

    reset: =>
        @cards = [Card(rank, suit) for suit in *SUITS for rank in *RANKS]
        @discards = {}

    shuffle: =>
        -- Fisher-Yates, walking backwards through the deck
        rng = @rng -- a plain function, so no method call
        for i = #@cards, 2, -1
            j = rng 1, i
            @cards[i], @cards[j] = @cards[j], @cards[i]
        @

    remaining: => #@cards

    draw: (n = 1) =>
        hand = {}
        for i = 1, n
            if #@cards == 0
                @cards, @discards = @discards, {}
                @shuffle!
            table.insert hand, table.remove(@cards)
        hand

    discard: (cards) =>
        table.insert @discards, c for c in *cards


class Hand
    new: (@owner) =>
        @cards = {}

    add: (cards) =>
        table.insert @cards, c for c in *cards
        @

    score: =>
        total, aces = 0, 0
        for c in *@cards
            total += c\value!
            aces += 1 if c.rank == "A"
        -- demote aces from 11 to 1 while the hand is bust
        while total > 21 and aces > 0
            total -= 10
            aces -= 1
        total

    is_blackjack: => #@cards == 2 and @score! == 21

    describe: =>
        names = table.concat [tostring c for c in *@cards], ", "
        "#{@owner}: #{names} (#{@score!})"


play_round = (deck) ->
    player = Hand("player")\add deck\draw 2
    dealer = Hand("dealer")\add deck\draw 2
    while player\score! < 17
        player\add deck\draw!
    while dealer\score! < 17
        dealer\add deck\draw!
    print player\describe!
    print dealer\describe!
    p, d = player\score!, dealer\score!
    result = if p > 21
        "bust"
    elseif player\is_blackjack! and not dealer\is_blackjack!
        "blackjack"
    elseif d > 21 or p > d
        "win"
    elseif p == d
        "push"
    else
        "lose"
    deck\discard player.cards
    deck\discard dealer.cards
    result


math.randomseed os.time!
deck = Deck!\shuffle!
tally = {}
for round = 1, 5
    outcome = play_round deck
    tally[outcome] = (tally[outcome] or 0) + 1
for outcome, count in pairs tally
    print "#{outcome}: #{count}"

{ :Card, :Deck, :Hand }
