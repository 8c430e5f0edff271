-- Library loans: copies, members, due dates, late fines and a reservation queue

DAY = 24 * 60 * 60
LOAN_DAYS = 21
FINE_PER_DAY = 25 -- cents
MAX_LOANS = 5

class Book
	new: (@isbn, @title, @author, copies = 1) =>
		@available = copies
		@holds = {}

class Member
	new: (@id, @name) =>
		@loans = {}
		@fines = 0

	can_borrow: =>
		return false, "unpaid fines" if @fines > 1000
		return false, "loan limit reached" if #@loans >= MAX_LOANS
		true

class Library
	new: (@clock = os.time) =>
		@books = {}
		@members = {}

	add_book: (book) => @books[book.isbn] = book
	join: (member) => @members[member.id] = member

	checkout: (member_id, isbn) =>
		member, book = @members[member_id], @books[isbn]
		return nil, "unknown member or book" unless member and book
		ok, why = member\can_borrow!
		return nil, why unless ok
		-- a reserved copy goes to the first person waiting
		if #book.holds > 0 and book.holds[1] != member_id
			return nil, "reserved for another member"
		return nil, "no copies available" if book.available == 0
		table.remove book.holds, 1 if book.holds[1] == member_id
		book.available -= 1
		loan = {:isbn, due: @clock! + LOAN_DAYS * DAY, renewals: 0}
		table.insert member.loans, loan
		loan

	checkin: (member_id, isbn) =>
		member = @members[member_id]
		for i, loan in ipairs member.loans
			if loan.isbn == isbn
				table.remove member.loans, i
				late_days = math.ceil (@clock! - loan.due) / DAY
				member.fines += late_days * FINE_PER_DAY if late_days > 0
				@books[isbn].available += 1
				return math.max 0, late_days
		nil, "that book is not on loan to #{member.name}"

	renew: (member_id, isbn) =>
		for loan in *@members[member_id].loans
			if loan.isbn == isbn
				return nil, "already renewed twice" if loan.renewals >= 2
				return nil, "someone is waiting for it" if #@books[isbn].holds > 0
				loan.due += LOAN_DAYS * DAY
				loan.renewals += 1
				return loan.due
		nil, "not on loan"

	reserve: (member_id, isbn) =>
		holds = @books[isbn].holds
		for id in *holds
			return #holds if id == member_id
		table.insert holds, member_id
		#holds

	overdue: =>
		now = @clock!
		[{member: m.name, :isbn} for _, m in pairs @members for {:isbn, :due} in *m.loans when due < now]

-- a fake clock lets the example jump forward in time
now = os.time!
lib = Library -> now
lib\add_book Book("978-0", "The Dispossessed", "Le Guin", 1)
lib\join Member(1, "Ana")
lib\join Member(2, "Ben")
lib\checkout 1, "978-0"
print "ben waits in position #{lib\reserve 2, '978-0'}"
print lib\renew(1, "978-0") or "renewal refused"
now += 30 * DAY
print "ana returned it #{lib\checkin 1, '978-0'} days late"
loan = lib\checkout 2, "978-0"
print "ben's copy is due back on #{os.date '%Y-%m-%d', loan.due}"
