"""Words of the exhibit in Korean and English."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "ko": {
        "title": "고양 스마트시티 디지털 트윈",
        "subtitle": "도시의 센서가 지금 무엇을 보고 있는지 살펴보세요",
        "lookup": "내 땅 찾기 (지번)",
        "lookup_hint": "예: 덕양구 화정동 1001-1",
        "lookup_go": "찾기",
        "attract": "화면을 터치해 보세요",
        "attract_sub": "Touch the screen to explore",
        "buildings": "건물",
        "sensors": "센서",
        "not_found": "해당 지번을 찾지 못했습니다",
        "no_building": "건물 없음",
    },
    "en": {
        "title": "Goyang Smart City digital twin",
        "subtitle": "See what the city's sensors see right now",
        "lookup": "Find a parcel (lot number)",
        "lookup_hint": "e.g. 덕양구 화정동 1001-1",
        "lookup_go": "Find",
        "attract": "Touch the screen to explore",
        "attract_sub": "화면을 터치해 보세요",
        "buildings": "buildings",
        "sensors": "sensors",
        "not_found": "No parcel with that lot number",
        "no_building": "no building",
    },
}


def t(lang: str, key: str) -> str:
    return TEXT.get(lang, TEXT["ko"]).get(key, key)
