-- Bank accounts with a transaction ledger, overdrafts, transfers and interest

class InsufficientFunds
    new: (@account, @amount) =>
    __tostring: => "#{@account.owner} cannot withdraw #{@amount}"

format_money = (cents) ->
    sign = if cents < 0 then "-" else ""
    cents = math.abs cents
    string.format "%s$%d.%02d", sign, math.floor(cents / 100), cents % 100

class Account
    @next_id: 1

    new: (@owner, opening = 0) =>
        -- shared by every subclass, so go through Account itself
        @id = Account.next_id
        Account.next_id += 1
        @ledger = {}
        @balance = 0
        @overdraft = 0
        @deposit opening, "opening balance" if opening > 0

    record: (kind, amount, memo) =>
        @balance += amount
        table.insert @ledger, {:kind, :amount, :memo, balance: @balance, time: os.time!}

    deposit: (amount, memo = "deposit") =>
        assert amount > 0, "deposit must be positive"
        @record "credit", amount, memo
        @

    can_withdraw: (amount) => @balance - amount >= -@overdraft

    withdraw: (amount, memo = "withdrawal") =>
        assert amount > 0, "withdrawal must be positive"
        error InsufficientFunds(@, amount) unless @can_withdraw amount
        @record "debit", -amount, memo
        @

    transfer: (to, amount) =>
        @withdraw amount, "transfer to #{to.owner}"
        to\deposit amount, "transfer from #{@owner}"

    statement: =>
        print "Statement for #{@owner} (account #{@id})"
        for t in *@ledger
            print string.format("  %-28s %12s %12s", t.memo, format_money(t.amount), format_money(t.balance))
        print "  closing balance: #{format_money @balance}"


class SavingsAccount extends Account
    new: (owner, opening, @rate = 0.02) =>
        super owner, opening
        @withdrawals_this_month = 0

    -- savings accounts allow three withdrawals a month
    withdraw: (amount, memo) =>
        error "withdrawal limit reached", 2 if @withdrawals_this_month >= 3
        super amount, memo
        @withdrawals_this_month += 1
        @

    end_of_month: =>
        interest = math.floor @balance * @rate / 12
        @deposit interest, "interest" if interest > 0
        @withdrawals_this_month = 0


class CheckingAccount extends Account
    new: (owner, opening, overdraft = 50000) =>
        super owner, opening
        @overdraft = overdraft


alice = CheckingAccount "Alice", 120000
bob = SavingsAccount "Bob", 500000, 0.04

alice\withdraw 15000, "rent share"
alice\transfer bob, 40000
ok, err = pcall -> alice\withdraw 200000, "new laptop"
print "declined: #{tostring err}" unless ok
bob\end_of_month!

alice\statement!
bob\statement!

{ :Account, :SavingsAccount, :CheckingAccount, :format_money }
