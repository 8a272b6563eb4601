"""The personal-data detector against a corpus: phone numbers and NIKs in the spellings
people type (spaces, dots, dashes of every kind, slashes, underscores, brackets, line
breaks), e-mail addresses, and what must stay readable (dates, times, money, counts,
addresses, plates). Each positive example must come out with no digit of the number and
no character of the address left; each negative example must come out unchanged."""

from __future__ import annotations

import itertools

import pytest

from survey.core.privacy import mask_personal_data

PHONES = ["081234567890", "085712345678", "0811234567", "02155512345", "0227654321",
          "+6281234567890", "6281234567890", "0751123456"]
NIKS = ["3201234567890001", "3578012345670002", "1271056789012345"]


def spellings(number: str) -> list[str]:
    """How people write a number: grouped by 4 (or 3-4-4 for phones), with every common
    separator, and with brackets round an area code."""
    plus = number.startswith("+")
    digits = number.lstrip("+")
    groups = [digits[i:i + 4] for i in range(0, len(digits), 4)]
    out = []
    for separator in (" ", ".", "-", " - ", "–", " — ", "/", "_", "  ", "\n", ". "):
        out.append(("+" if plus else "") + separator.join(groups))
    if digits.startswith("0"):
        out.append(f"({digits[:3]}) {digits[3:7]}-{digits[7:]}")
    if plus:
        out.append(f"+62 ({digits[2:5]}) {digits[5:9]}-{digits[9:]}")
    return out


LOCAL = ["5551 2345", "555-12345", "7654.3210", "12345678", "98765432", "123456789",
         "0751 1234", "(021) 5551234"]  # landlines without or with a short area code
EMAILS = ["budi.santoso@gmail.com", "siti_rahma88@yahoo.co.id",
          "kantor.desa+skm@example.go.id", "a@b.id", "PETUGAS@KEC-A.GO.ID"]
POSITIVE = [*sorted({s for n in PHONES + NIKS for s in [n, *spellings(n)]}), *LOCAL, *EMAILS]
NEGATIVE = [
    # dates and times
    "15-05-2024", "15/05/2024", "2024-05-15", "15.05.2024", "15 Mei 2024", "2024/05/15",
    "1-5-2024", "31/12/2023", "08.00-12.00", "08:00 - 15:30", "pukul 13.45", "jam 8-12",
    "Senin-Jumat 08.00–15.00", "tahun 2024", "2023/2024", "semester 1 2024",
    # money and amounts
    "Rp 50.000", "Rp50.000", "Rp 1.500.000", "Rp 150.000.000", "Rp 1.500.000.000",
    "Rp. 2.500.000.000", "IDR 12,500,000,000", "biaya 25.000 rupiah", "USD 1,000,000,000",
    "$ 2.000.000.000", "harga 10 ribu", "Rp 0",
    # counts, ranks and short codes
    "antrean nomor 123", "nomor antrean A-045", "loket 3", "menunggu 45 menit",
    "2 jam", "3 kali datang", "100%", "99,5%", "nilai 4", "ke-2", "NIP kurang 1 digit",
    "kode pos 40115", "RT 03/RW 05", "Jl. Merdeka No. 12", "Gedung B lantai 3",
    "B 1234 XYZ", "D 4567 AB", "kamar 101", "versi 2.3.1", "tiket 7KQ2M-XD93P",
    "nomor 12 dan 13", "1 2 3 4", "antre 1-2 jam", "umur 45 tahun", "lahir 1980",
    "KTP-el", "e-KTP", "SIM A", "NPWP", "BPJS", "loket 1, 2 dan 3", "5 orang",
    "jam 10", "pukul 09.30 WIB", "tanggal 5", "bulan 12", "2 x 3", "No. 7",
    "17 Agustus 1945", "Desember 2024", "30 menit", "15 hari kerja", "7 hari",
    "1 minggu", "50 ribu", "ruang 2.01", "lantai 2", "meja 4-5", "kursi 20 buah",
    "1234567", "nomor 765432", "2024 2025", "1999-2000", "2023 – 2024",
    "RT 1 RW 2", "blok C-12", "km 45", "3,5 km", "0,5", "10.000 langkah",
    "tahun 2020-2024", "periode 2024-S1", "2024-Q3", "no. registrasi 2024-05",
    # words and e-mail look-alikes that are not addresses
    "terima kasih", "pelayanan @ kantor", "email belum dibalas", "a @ b", "@admin",
    "user@", "@gmail.com", "nama@", "info at kantor dot go dot id",
    "petugas ramah dan cepat", "mohon ditingkatkan", "AC rusak", "toilet kotor",
    "parkir sempit", "antrean panjang sekali", "sangat puas", "tidak puas",
    "pelayanan 5 bintang", "skor 4/4", "nilai 3/4", "1/2 jam", "3/4 jam",
]


def test_the_corpus_is_large_enough():
    assert len(POSITIVE) >= 100 and len(NEGATIVE) >= 100


@pytest.mark.parametrize("sample", POSITIVE)
def test_personal_data_is_masked(sample: str):
    text = f"Tolong hubungi saya di {sample} ya, terima kasih."
    masked, count = mask_personal_data(text)
    assert count == 1, masked
    assert masked.startswith("Tolong hubungi saya di ") and masked.endswith(" ya, terima kasih.")
    hidden = masked[len("Tolong hubungi saya di "):-len(" ya, terima kasih.")]
    if "@" in sample:
        assert set(hidden) == {"*"} and len(hidden) == len(sample)
    else:
        assert not any(c.isdigit() for c in hidden), hidden
        assert len(hidden) == len(sample)  # the shape stays: the reader sees a number was there


@pytest.mark.parametrize("sample", NEGATIVE)
def test_ordinary_text_stays_readable(sample: str):
    text = f"Catatan: {sample}."
    assert mask_personal_data(text) == (text, 0)


def test_several_numbers_and_addresses_are_counted():
    text = ("NIK 3201 2345 6789 0001, HP 0812-3456-7890, surel budi@gmail.com; "
            "antre 45 menit, Rp 50.000")
    masked, count = mask_personal_data(text)
    assert count == 3
    assert "3201" not in masked and "0812" not in masked and "budi" not in masked
    assert "45 menit" in masked and "Rp 50.000" in masked


@pytest.mark.parametrize("a,b", list(itertools.combinations(PHONES[:3], 2)))
def test_two_numbers_side_by_side_are_both_masked(a, b):
    masked, count = mask_personal_data(f"{a} atau {b}")
    assert count == 2 and not any(c.isdigit() for c in masked)
