// A small dictionary: Chinese by default, English switchable; the choice is kept per tab.
const DICT = {
  zh: {
    title: "一图 · 老河口市域社会治理", login: "登录", logout: "退出", username: "用户名",
    password: "密码", login_failed: "登录失败", search_ph: "地址 / 人员 / 案件编号 / 网格码",
    layers: "图层", towns: "乡镇街道", villages: "村社区", grids: "管理网格", cells: "北斗网格",
    roads: "道路", water: "水系", buildings: "建筑(3D)", cases: "案件", heat: "案件热力(网格)",
    building: "建筑", floors: "层数", height: "高度", use: "用途", rooms: "房屋", unit: "单元",
    floor: "楼层", room: "室", residents: "居住人员", no_residents: "无居住人员",
    cell: "北斗网格", population: "人口", total: "合计", grid_counts: "网格统计",
    elderly_alone: "独居老人", organisations: "单位", close: "关闭", role: "角色",
    results: "搜索结果", addresses: "地址", people: "人员", nodes: "区划", no_results: "无结果",
    command: "指挥面板", today_new: "今日新增", open: "在办", overdue: "超期", closed_today: "今日办结",
    on_time_rate: "按期办结率", trend: "趋势(近30天)", by_township: "乡镇排名",
    by_department: "部门排名", supervision: "督办清单", dispatch: "派遣", close_case: "结案",
    case: "案件", history: "流转记录", photos: "照片", state: "状态", category: "类别",
    department: "部门", select_department: "选择部门", comment: "意见", submit: "提交",
    report_title: "随手拍 · 我要反映", report_desc: "问题描述", report_photo: "照片",
    report_locate: "使用当前位置", report_tap: "或在地图上点选位置", report_submit: "提交",
    report_ok: "已提交，案件编号", follow: "查询进度", case_number: "案件编号",
    grid_code: "网格码", location: "位置", contact: "联系电话(选填)", name: "姓名(选填)",
    cases_unavailable: "案件服务暂不可用", forbidden: "无权限", error: "出错了",
    lang: "English", masked_note: "人员信息按角色脱敏显示，每次查看均记录审计",
    incoming: "新上报", service: "问题类型", new_cases: "新增", closed: "办结",
    red_warning: "红灯", yellow_warning: "黄灯", new_password: "新密码",
    must_change_password: "首次登录请设置新密码（至少10位，含字母和数字）",
    copy: "复制", copied: "已复制", merge_into: "合并到案件(编号)", extension_value: "延期时长",
    extension_unit: "单位", satisfaction: "满意度", supervise_reason: "督办事由",
    required: "请填写", extension_pending: "待审批延期",
  },
  en: {
    title: "yitu · Laohekou one map", login: "Log in", logout: "Log out", username: "Username",
    password: "Password", login_failed: "Login failed", search_ph: "address / person / case no. / grid code",
    layers: "Layers", towns: "Towns", villages: "Villages", grids: "Management grids",
    cells: "BeiDou cells", roads: "Roads", water: "Water", buildings: "Buildings (3D)",
    cases: "Cases", heat: "Case heat (by cell)", building: "Building", floors: "Floors",
    height: "Height", use: "Use", rooms: "Rooms", unit: "Unit", floor: "Floor", room: "Room",
    residents: "Residents", no_residents: "No residents", cell: "BeiDou cell",
    population: "Population", total: "Total", grid_counts: "Grid counts",
    elderly_alone: "Elderly living alone", organisations: "Organisations", close: "Close",
    role: "Role", results: "Results", addresses: "Addresses", people: "People", nodes: "Places",
    no_results: "No results", command: "Command panel", today_new: "New today", open: "Open",
    overdue: "Overdue", closed_today: "Closed today", on_time_rate: "On-time rate",
    trend: "Trend (30 days)", by_township: "By township", by_department: "By department",
    supervision: "Supervision list", dispatch: "Dispatch", close_case: "Close",
    case: "Case", history: "History", photos: "Photos", state: "State", category: "Category",
    department: "Department", select_department: "Choose a department", comment: "Comment",
    submit: "Submit", report_title: "Report a problem", report_desc: "What is wrong?",
    report_photo: "Photo", report_locate: "Use my location", report_tap: "or tap the map",
    report_submit: "Send", report_ok: "Received, case number", follow: "Follow a case",
    case_number: "Case number", grid_code: "Grid code", location: "Location",
    contact: "Phone (optional)", name: "Name (optional)", cases_unavailable: "Case service unavailable",
    forbidden: "Not allowed", error: "Error", lang: "中文",
    masked_note: "People are masked for your role; every view is audited",
    incoming: "Incoming", service: "Problem type", new_cases: "New", closed: "Closed",
    red_warning: "Red", yellow_warning: "Yellow", new_password: "New password",
    must_change_password: "First login: choose a new password (10+ characters, letters and digits)",
    copy: "Copy", copied: "Copied", merge_into: "Merge into case (number)",
    extension_value: "Extension", extension_unit: "Unit", satisfaction: "Satisfaction",
    supervise_reason: "Reason", required: "Required", extension_pending: "Extension waiting",
  },
};

export function lang() {
  return sessionStorage.getItem("yitu.lang") || "zh";
}

export function t(key) {
  return DICT[lang()][key] ?? DICT.zh[key] ?? key;
}

export function toggleLang() {
  sessionStorage.setItem("yitu.lang", lang() === "zh" ? "en" : "zh");
}

// Fill every element carrying data-i18n (text) or data-i18n-ph (placeholder).
export function applyI18n(root = document) {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-ph]")) el.placeholder = t(el.dataset.i18nPh);
}

// Case workflow words (the API speaks in English identifiers).
const ACTION_ZH = {
  accept: "受理", verify: "核实", register: "立案", dispatch: "派遣", handle: "签收",
  feedback: "处置反馈", check: "核查通过", close: "结案", reject: "不予受理", merge: "合并",
  return: "回退", refuse_return: "驳回回退", request_extension: "申请延期",
  approve_extension: "批准延期", deny_extension: "驳回延期", suspend: "缓办", resume: "恢复",
  rework: "返工", visit: "回访", reopen: "重办", cancel: "作废", supervise: "督办",
  report: "上报", sweep: "预警",
};
const STATE_ZH = {
  reported: "已上报", accepted: "已受理", verified: "已核实", registered: "已立案",
  dispatched: "已派遣", handling: "处置中", handled: "已处置", checked: "已核查", closed: "已结案",
  returned: "回退", suspended: "缓办", rejected: "不予受理", cancelled: "已作废", merged: "已合并",
};

export const actionName = (a) => (lang() === "zh" ? ACTION_ZH[a] || a : a.replace(/_/g, " "));
export const stateName = (s) => (lang() === "zh" ? STATE_ZH[s] || s : s);

// Registry and case enums (the API speaks in English identifiers; Chinese per the domain terms).
const ENUM_ZH = {
  // 建筑用途
  residential: "住宅", commercial: "商业", office: "办公", industrial: "工业", warehouse: "仓储",
  mixed: "商住混用", public: "公共服务", other: "其他",
  // 房屋使用类型
  self_occupied: "自用", rented: "出租", vacant: "闲置",
  // 人房关系
  owner: "产权人", householder: "户主", family_member: "家庭成员", tenant: "租住人",
  lodger: "寄住人", registered: "户籍登记",
  // 人员类型
  hukou: "户籍人口", floating: "流动人口", lodging: "寄住人口", foreign: "境外人员",
  // 角色
  operator: "指挥中心坐席", dept_handler: "部门处置人员", township_officer: "乡镇干部",
  grid_worker: "网格员", eldercare_operator: "养老服务人员", mediator: "人民调解员",
  court_liaison: "法院联络员", sys_admin: "系统管理员", sec_admin: "安全管理员",
  audit_admin: "安全审计员",
  // 回访满意度, 时限单位
  satisfied: "满意", basically_satisfied: "基本满意", unsatisfied: "不满意",
  working_hours: "工作小时", working_days: "工作日", natural_hours: "自然小时",
};

//: An enum value in the page's language (unknown values are shown as they come).
export const enumName = (v) =>
  v === null || v === undefined ? "" : lang() === "zh" ? ENUM_ZH[v] || v : String(v).replace(/_/g, " ");
