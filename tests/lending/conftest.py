import pytest

from tests.lending import factories as f


@pytest.fixture
def credit(world):
    """Enterprise A borrows from lender A: one press shared with the lender, one not; a facility on both."""
    shared_press = f.make_press(world, "Shared press")
    private_press = f.make_press(world, "Private press")
    f.share(world, shared_press)
    borrower = f.make_borrower(world)
    f.add_statement(world, borrower)
    facility = f.make_facility(world, borrower, presses=[shared_press, private_press])
    world.objects.update(shared_press=shared_press, private_press=private_press, borrower=borrower, facility=facility)
    return world
