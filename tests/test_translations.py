"""Spanish: every string in the catalogue, chosen from the browser or the switcher, remembered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from checker.engine import RuleSet

from .conftest import ROOT, VIGNETTES, extract_catalogue, walk

CATALOGUE = ROOT / "checker" / "translations" / "es" / "LC_MESSAGES" / "messages.po"
PLACEHOLDERS = re.compile(r"%\(\w+\)[sd]|\{[a-z_.]+\}|</?strong>")
NINE_MONTHS = next(c for c in VIGNETTES if c["name"] == "nine-months-established")


def test_every_string_is_in_the_spanish_catalogue(tmp_path: Path) -> None:
    pot = extract_catalogue(tmp_path)
    with pot.open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    with CATALOGUE.open("rb") as fh:
        spanish = {m.id: m for m in read_po(fh, locale="es") if m.id}
    missing = sorted(i for i in wanted if i not in spanish or not spanish[i].string or spanish[i].fuzzy)
    assert missing == [], f"{len(missing)} strings have no Spanish: run scripts/translations and translate them"
    assert len(wanted) > 400


def test_placeholders_survive_translation() -> None:
    with CATALOGUE.open("rb") as fh:
        catalogue = read_po(fh, locale="es")
    for message in catalogue:
        if message.id and message.string:
            assert sorted(PLACEHOLDERS.findall(str(message.id))) == sorted(PLACEHOLDERS.findall(str(message.string))), (
                message.id
            )


def test_browser_language_is_used(client: FlaskClient) -> None:
    html = client.get("/", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="es">' in html
    assert "Compruebe si hay señales de sincinesia" in html
    assert 'hreflang="en"' in html  # the way back to English
    english = client.get("/", headers={"Accept-Language": "fr, en;q=0.5"}).get_data(as_text=True)
    assert '<html lang="en">' in english


def test_switcher_on_every_page_and_remembered(client: FlaskClient, rules: RuleSet) -> None:
    walk(client, rules, NINE_MONTHS["answers"])
    for url in ("/", "/check-answers", "/result", "/how-this-works", "/accessibility", "/emergency"):
        html = client.get(url).get_data(as_text=True)
        assert 'hreflang="es"' in html, url
    # On a question page the switch sends the page's form, so choices not saved yet are kept.
    question = client.get("/questions/signs?change=1").get_data(as_text=True)
    assert 'form="question-form" name="language" value="es"' in question
    assert '<form method="post" novalidate class="question-form" id="question-form">' in question
    client.get("/result?lang=es")
    html = client.get("/result").get_data(as_text=True)  # no parameter, no header: remembered
    assert '<html lang="es">' in html
    assert "Sus respuestas se parecen más a:" in html
    assert "Sincinesia establecida" in html
    assert "La debilidad empezó hace entre 6 y 12 meses" in html
    assert "el ojo se le cierra o se le achica al sonreír y el ojo se le cierra" in html  # joined in Spanish
    client.get("/?lang=en")
    assert '<html lang="en">' in client.get("/result").get_data(as_text=True)


def test_switching_language_on_a_question_page_keeps_what_was_chosen(client: FlaskClient) -> None:
    page = client.get("/questions/safety").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    # Two answers chosen, three not yet: the switch is not "Continue", so nothing is missing.
    chosen = {"rf_stroke_signs": "no", "rf_eye": "yes", "language": "es", "csrf_token": token.group(1)}
    switched = client.post("/questions/safety", data=chosen)
    assert switched.headers["Location"] == "/questions/safety"
    spanish = client.get("/questions/safety").get_data(as_text=True)
    assert '<html lang="es">' in spanish
    assert re.search(r'id="rf_eye" name="rf_eye" value="yes"\s+checked', spanish)
    assert re.search(r'name="rf_stroke_signs" value="no"\s+checked', spanish)
    assert "Elija sí o no" not in spanish  # no errors for what is still to answer


def test_the_stop_comes_before_a_language_switch(client: FlaskClient) -> None:
    page = client.get("/questions/safety").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    data = {"rf_stroke_signs": "yes", "language": "es", "csrf_token": token.group(1)}
    assert client.post("/questions/safety", data=data).headers["Location"] == "/emergency"


def test_a_spanish_check_s_fhir_response_says_it_is_spanish(client: FlaskClient, rules: RuleSet) -> None:
    client.get("/?lang=es")
    walk(client, rules, NINE_MONTHS["answers"])
    bundle = client.get("/result.fhir.json").get_json()
    response = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "QuestionnaireResponse")
    assert response["language"] == "es"
    assert "Cuando sonrío" in str(response)


def test_how_this_works_says_the_translation_awaits_review(client: FlaskClient) -> None:
    spanish = client.get("/how-this-works?lang=es").get_data(as_text=True)
    assert "Esta traducción tampoco ha sido revisada" in spanish
    english = client.get("/how-this-works?lang=en").get_data(as_text=True)
    assert "This translation has not yet been reviewed" not in english


def test_questions_errors_and_pdf_in_spanish(client: FlaskClient, rules: RuleSet) -> None:
    from .test_reports_and_fhir import pdf_text

    client.get("/?lang=es")
    page = client.get("/questions/safety").get_data(as_text=True)
    assert "Paso 1 de 7: Preguntas de seguridad" in page
    assert "¿Tiene débiles los dos lados de la cara?" in page
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token
    errors = client.post("/questions/safety", data={"csrf_token": token.group(1)}).get_data(as_text=True)
    assert "<title>Error: Paso 1 de 7" in errors
    assert "Elija sí o no" in errors
    walk(client, rules, NINE_MONTHS["answers"])
    text = pdf_text(client.get("/result.pdf").data)
    assert "Autoevaluación de sincinesia: su resumen" in text
    assert "No es un diagnóstico." in text
    assert "Cuando sonrío, el ojo se me cierra o se me achica." in text


@pytest.mark.parametrize("path", ["/api/v1/questionnaire", "/api/v1/fhir/Questionnaire/synkinesis-self-check"])
def test_catalogues_in_the_requested_language(client: FlaskClient, path: str) -> None:
    body = client.get(path, headers={"Accept-Language": "es"}).get_json()
    assert "¿Tiene débiles los dos lados de la cara?" in str(body)


GLOSSARY = ROOT / "checker" / "translations" / "es" / "GLOSSARY.md"


def _glossary() -> list[tuple[str, list[str], list[str]]]:
    """(English term, Spanish forms, forms to avoid) from the glossary's table."""
    rows = []
    for line in GLOSSARY.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("English", "---"):
            continue
        forms = [f.strip() for f in cells[1].split(" / ") if f.strip()]
        avoid = [f.strip() for f in cells[2].split(" / ") if f.strip()]
        rows.append((cells[0], forms, avoid))
    return rows


def _pattern(form: str) -> re.Pattern[str]:
    text = re.escape(form).replace(r"\(s\)", "s?").replace(r"\(es\)", "(?:es)?")
    return re.compile(r"(?<!\w)" + text, re.IGNORECASE)


def test_the_glossary_is_followed_everywhere() -> None:
    rows = _glossary()
    assert len(rows) >= 20
    with CATALOGUE.open("rb") as fh:
        messages = [(str(m.id), str(m.string)) for m in read_po(fh, locale="es") if m.id and m.string]
    problems = []
    for english, forms, avoid in rows:
        for msgid, msgstr in messages:
            for word in avoid:
                if _pattern(word).search(msgstr):
                    problems.append(f"{word!r} (avoid) in: {msgstr}")
            named = english and forms and re.search(rf"(?<!\w){re.escape(english)}s?(?!\w)", msgid, re.IGNORECASE)
            if named and not any(_pattern(form).search(msgstr) for form in forms):
                problems.append(f"{english!r} is not {' / '.join(forms)} in: {msgstr}")
    assert problems == []


@pytest.mark.parametrize("query", ["endpoint=x", "_method=DELETE", "page_id=x", "lang=es&lang=xx"])
def test_any_query_string_keeps_the_page_and_its_language_link(client: FlaskClient, query: str) -> None:
    """The language link copies the query as text: names url_for would read never reach it."""
    question = client.get(f"/questions/safety?{query}")
    assert question.status_code == 200
    assert 'name="language" value="' in question.get_data(as_text=True)  # a question page sends its form instead
    for path in ("/", "/how-this-works"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (path, query)
        link = re.search(r'<a href="([^"]+)" lang="(\w+)" hreflang=', response.get_data(as_text=True))
        assert link, (path, query)
        assert link.group(1).startswith(f"{path}?"), link.group(1)
        assert f"lang={link.group(2)}" in link.group(1)


def test_a_nul_in_the_address_is_a_400_page_in_either_language(client: FlaskClient) -> None:
    for path in ("/", "/questions/safety", "/staff/sign-in"):
        for language, heading in (("en", "<h1"), ("es", 'lang="es"')):
            response = client.get(f"{path}?a=%00b", headers={"Accept-Language": language})
            assert response.status_code == 400, path
            assert heading in response.get_data(as_text=True)


def test_templates_translate_word_for_word_as_with_jinjas_own_gettext(rules: RuleSet) -> None:
    """The app's template gettext keeps each string's text with its catalogue: every page reads
    the same as with Jinja's own gettext, in both languages (form tokens aside)."""
    from checker import create_app
    from checker.web.i18n import translations

    from .conftest import TEST_CONFIG

    app = create_app(TEST_CONFIG)

    def pages() -> list[str]:
        read = []
        for language in ("en", "es"):
            client = app.test_client()
            client.get(f"/?lang={language}")
            urls = [
                "/",
                "/how-this-works",
                "/questions/safety",
                "/accessibility",
                "/emergency",
                "/nope",
                "/staff/sign-in",
            ]
            read += [client.get(url).get_data(as_text=True) for url in urls]
            walk(client, rules, VIGNETTES[0]["answers"])
            read += [
                client.get(url).get_data(as_text=True) for url in ("/questions/signs", "/check-answers", "/result")
            ]
        return [re.sub(r'name="csrf_token" type="hidden" value="[^"]*"', "", page) for page in read]

    ours = pages()
    assert "Español" in ours[0]
    assert "English" in ours[len(ours) // 2]
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]  # added by jinja2.ext.i18n
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        newstyle=True,
    )
    app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"]
    assert pages() == ours
