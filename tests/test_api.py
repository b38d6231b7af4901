"""The JSON API of the catalog."""

from __future__ import annotations


def test_healthz_reports_ok_and_the_database(client, backend):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["database"] == backend


def test_the_standards_list_has_both_standards(client):
    r = client.get("/api/v1/standards")
    assert r.status_code == 200
    assert {s["code"]: s["counts"]["requirements"] for s in r.json()} == {"530046": 154, "560003": 159}


def test_the_tree_of_560003_is_complete(client):
    r = client.get("/api/v1/standards/560003")
    assert r.status_code == 200
    tree = r.json()
    levels = tree["levels"]
    domains = [d for lv in levels for d in lv["domains"]]
    tasks = [t for d in domains for t in d["tasks"]]
    reqs = [q for t in tasks for q in t["requirements"]]
    assert (len(levels), len(domains), len(tasks), len(reqs)) == (3, 10, 30, 159)
    assert tree["counts"] == {"levels": 3, "domains": 10, "tasks": 30, "requirements": 159}
    assert [lv["name"] for lv in levels] == ["初级", "中级", "高级"]
    assert reqs[0] == {"code": "560003-L1-1.1.1", "number": "1.1.1",
                       "text": "能理解平台规则，在腾讯系、阿里系、百度系、头条系等主流新媒体平台注册和认证企业账号，设置账号基本信息。"}


def test_a_level_code_gives_that_level_only(client):
    r = client.get("/api/v1/standards/530046-L3")
    assert r.status_code == 200
    assert [lv["code"] for lv in r.json()["levels"]] == ["530046-L3"]


def test_a_requirement_comes_with_its_context(client):
    r = client.get("/api/v1/requirements/530046-L3-4.3.4")
    assert r.status_code == 200
    body = r.json()
    assert body["text"] == "能根据运营目标，对客户服务进行数据化管理和考核。"
    assert (body["task"], body["task_name"]) == ("530046-L3-4.3", "动态评分与客户服务数据化管理")
    assert (body["domain_name"], body["level_name"], body["standard_name"]) == ("数据化运营", "高级", "移动互联网运营")


def test_an_unknown_code_is_a_404_naming_it(client):
    for path, code in (("/api/v1/standards/123456", "123456"), ("/api/v1/standards/530046-L7", "530046-L7"),
                       ("/api/v1/requirements/530046-L1-9.9.9", "530046-L1-9.9.9")):
        r = client.get(path)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["code"] == code
        assert code in r.json()["message"]


def test_the_openapi_docs_list_every_route(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/static/swagger-ui/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/api/v1/standards", "/api/v1/standards/{code}", "/api/v1/requirements/{code}"} <= set(paths)


def test_an_id_beyond_the_databases_integers_is_a_404_on_every_backend(client):
    # SQLite: OverflowError binding the parameter; PostgreSQL: "integer out of range" (22003)
    for url in ("/api/v1/items/X-1/versions/5000436300201/images/a.png", "/api/v1/exams/97290381097063"):
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code, r.text)
