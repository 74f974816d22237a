"""The person record. Belongs to a jurisdiction node, like every business record."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from yitu.access.scope import Jurisdictional
from yitu.core.db import Base, UtcDateTime

# Field names as the API and the audit log name them.
PERSONAL_FIELDS = ("name", "id_number", "phone", "address", "birth_date")


class Person(Jurisdictional, Base):
    """A resident (实有人口). ``node_id`` is the grid (or village) they live in.

    The registry issue adds the house/building link (with its BeiDou grid code); this table keeps
    only what the platform's masking and jurisdiction machinery needs to be real.
    """

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    id_number: Mapped[str] = mapped_column(String(18), index=True)  # 公民身份号码 (GB 11643)
    phone: Mapped[str] = mapped_column(String(20), default="", index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    gender: Mapped[str] = mapped_column(String(1))  # "M" / "F", from the ID number
    birth_date: Mapped[date] = mapped_column(Date)
    # 人员类型: hukou (户籍) / floating (流动) / lodging (寄住) / foreign (境外); see
    # yitu.registry.models.RegistrationType
    registration_type: Mapped[str] = mapped_column(String(12), default="hukou", index=True)
    ethnicity: Mapped[str] = mapped_column(String(20), default="汉族")
    hukou_place: Mapped[str] = mapped_column(String(100), default="")  # 户籍地 (text; 外地 too)
    # 关注标签, comma-separated: elderly_alone (独居老人), disabled (残疾), low_income (低保),
    # veteran (退役军人), left_behind_child (留守儿童) …
    care_tags: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
