"""Agencies are the unit of scoping: two agencies may not share a name (a case shared "with the
home office" must mean one agency)."""

import pytest

from custodes.access import service as access
from custodes.actor import Actor
from custodes.access.models import AgencyCreate
from custodes.errors import Conflict


def test_an_agency_name_is_unique(container, rows):
    with container.uow(Actor.system("test")) as uow:
        access.create_agency(uow=uow, data=AgencyCreate(name="North team", kind="home_office"))
        uow.commit()
    with pytest.raises(Conflict), container.uow(Actor.system("test")) as uow:
        access.create_agency(uow=uow, data=AgencyCreate(name="North team", kind="probation"))
        uow.commit()
    assert rows("agencies") == 1


def test_an_unknown_agency_name_is_not_found(container, agencies):
    from custodes.errors import NotFound

    with container.uow(Actor.system("test")) as uow:
        assert access.get_agency_by_name(uow=uow, name="home_office agency").id == agencies["home_office"]
        with pytest.raises(NotFound):
            access.get_agency_by_name(uow=uow, name="no such team")


def test_a_username_belongs_to_one_officer(container, agencies, rows):
    from custodes.access.models import UserCreate

    data = UserCreate(username="Same.Name", password="a-very-long-password", role="caseworker")
    with container.uow(Actor.system("test")) as uow:
        access.create_user(uow=uow, data=data, agency_id=agencies["home_office"])
        uow.commit()
    with pytest.raises(Conflict), container.uow(Actor.system("test")) as uow:
        access.create_user(uow=uow, data=data.model_copy(update={"username": "same.name"}),
                           agency_id=agencies["other_office"])
        uow.commit()
    assert rows("users") == 1
